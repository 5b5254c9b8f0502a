"""botocore's ECR model as the single source of truth: loading, input validation, output serialization."""
