"""Settings, password and token hashing, and the secret box for data encrypted at rest."""
