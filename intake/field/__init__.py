"""The field role: screening and referral forms on a device that holds no private key."""
