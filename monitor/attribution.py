"""OpenRouter's credit line, needed wherever token data is shown or exported. Its own module so that
screens and exports can name it without importing the HTTP stack."""

OPENROUTER_ATTRIBUTION = (
    "Source: OpenRouter (openrouter.ai), licensed under CC BY 4.0: reuse and republish with attribution to OpenRouter."
)
