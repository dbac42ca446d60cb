"""LTI 1.3 and LTI Advantage, the tool's side: OIDC login and launch validation, keys,
registrations (dynamic registration, links, origins), deep linking, grades (AGS), rosters
(NRPS), and the operator commands for all of these."""
