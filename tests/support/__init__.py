"""The harness for integration tests: real RabbitMQ, PostgreSQL, SMTP and service processes."""
