"""Reading and validating the inputs of the ingest stage (stages/ingest.py runs them)."""
