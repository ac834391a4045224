"""Newsreel's event contract: a JSON Schema and an example per event type and version
(`events/`), the AsyncAPI document (`asyncapi.yaml`), the rules (`README.md`), and
`contract.validate`, the one place that checks an event against them."""
