"""tokentape: HK-listed model makers' share prices beside OpenRouter token share."""
