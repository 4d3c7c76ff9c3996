"""The QuickBooks Online Accounting API v3 + OAuth 2.0 twin (see README.md beside this file)."""
