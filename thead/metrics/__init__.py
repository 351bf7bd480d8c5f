"""Everything ``thead evaluate`` reports: pixel errors, AU errors, identity similarity."""
