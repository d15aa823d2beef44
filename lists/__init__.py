"""Official list sources: one adapter per source fetches and parses the official format into kyc entries."""
