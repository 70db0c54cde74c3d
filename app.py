"""SpecLab app: `python app.py` serves the playground at http://127.0.0.1:7860.

`demo` is built at module level so `gradio app.py` (hot reload) and Hugging Face Spaces
find it. Models are loaded lazily by the worker, never at import.
"""

from __future__ import annotations

import argparse
import os

from playground.ui import build_demo, launch_kwargs

demo = build_demo()


def main() -> None:
    parser = argparse.ArgumentParser(description="SpecLab, a speculative-decoding playground")
    on_spaces = bool(os.environ.get("SPACE_ID"))
    parser.add_argument("--host", default="0.0.0.0" if on_spaces else "127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 7860)))
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public link")
    args = parser.parse_args()
    demo.queue(max_size=32).launch(
        server_name=args.host, server_port=args.port, share=args.share, **launch_kwargs()
    )


if __name__ == "__main__":
    main()
