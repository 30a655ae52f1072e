"""Changes to a hub's configuration (cameras with their keyring entries, hub settings), checked and
stored in the index: what the Hub API's backends share."""
