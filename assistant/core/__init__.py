"""What every stage shares: the typed data (schema), the one error type, the settings (the LLM's
too), Chinese text helpers and the prompt files. Imports nothing of the other rooms."""
