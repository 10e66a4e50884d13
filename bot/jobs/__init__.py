"""Background jobs: token upkeep, hygiene, Atlassian personal data reporting, key rotation.

`scheduler` runs them on one replica at a time (database leases); `tasks` are the jobs themselves.
"""
