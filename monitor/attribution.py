"""OpenRouter's credit line, needed wherever token data is shown or exported, and the two maker ids that
name no maker. Its own module so that screens and exports can name them without importing the HTTP stack
or polars."""

OTHER = "other"  # the export's own row for every model outside its ranking
UNATTRIBUTED = "unattributed"  # tokens of authors the config maps to no maker

OPENROUTER_ATTRIBUTION = (
    "Source: OpenRouter (openrouter.ai), licensed under CC BY 4.0: reuse and republish with attribution to OpenRouter."
)
