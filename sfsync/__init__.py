"""sfsync: test-drive reservations for car dealers on Salesforce."""

__version__ = "0.1.0"

API_VERSION = "66.0"
