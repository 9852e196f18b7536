"""Gradio tabs of the app: the public Chat tab and the admin tabs (one module each) plus auth glue."""
