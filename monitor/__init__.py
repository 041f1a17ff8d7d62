"""tokentape: HK-listed model makers' share prices beside OpenRouter token share."""

APP_NAME = "tokentape"  # names the config, data, cache and state folders (platformdirs)
