"""Who is asking and what they may do: the launch behind a request (launches.py), what a
user may see or change (permissions.py), the roles the tool knows (roles.py), and finding a
user an operator names (users.py)."""
