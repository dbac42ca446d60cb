"""The instructor's side: grades, feedback and comments (service.py), the scores on their
way to the LMS gradebook (outbox.py), the list of students to review (review_queue.py),
and the review pages and their API (views.py)."""
