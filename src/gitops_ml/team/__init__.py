"""The team's shared services: the DVC remote on S3, the MLflow server on PostgreSQL, and a local stack of both."""
