"""CDK entry point (cdk.json runs it): synthesise the tradeflow stack with cdk-nag's checks.

    npx aws-cdk@2 synth | deploy     (see docs/deploy.md)
"""

import sys
from pathlib import Path

CDK_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(CDK_DIR), str(CDK_DIR.parent / "layers" / "core")]

from tradeflow_cdk import build_app  # noqa: E402

if __name__ == "__main__":
    app, _ = build_app()
    app.synth()
