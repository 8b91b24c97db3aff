"""The workspace role: a coordinator's workstation that opens records with a private key."""
