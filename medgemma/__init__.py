"""MedGemma AI Platform: a guarded, cited medical chat with indexing, training, evaluation and export.

The package is a library with no UI imports; `app.py` and `admin/` build the Gradio app on top of it.
"""

__version__ = "0.1.0"
