"""Partner connectors. ``base`` holds the protocols; one package per partner."""
