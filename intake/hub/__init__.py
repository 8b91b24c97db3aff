"""The hub role: stores envelopes it cannot open and hands them to coordinators."""
