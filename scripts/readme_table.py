"""Regenerate the README's configuration table from medgemma.config.Settings."""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from medgemma.config import markdown_table  # noqa: E402

readme = Path(__file__).resolve().parent.parent / "README.md"
text = readme.read_text(encoding="utf-8")
new = re.sub(
    r"(<!-- config-table[^>]*-->\n).*?(\n<!-- /config-table -->)",
    lambda m: m.group(1) + markdown_table() + m.group(2),
    text,
    flags=re.S,
)
readme.write_text(new, encoding="utf-8")
print("README configuration table updated" if new != text else "README configuration table already current")
