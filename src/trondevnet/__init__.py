"""Local TRON devnet: a java-tron HTTP API simulator. Imports nothing of tronrent.

In-process use::

    async with DevnetServer(port=0, block_interval_ms=100) as node:
        node.url, node.chain
"""

from trondevnet.chain import Chain
from trondevnet.config import DevnetConfig
from trondevnet.node import DevnetNode, FaultRule
from trondevnet.server import DevnetServer, serve

__all__ = ["Chain", "DevnetConfig", "DevnetNode", "DevnetServer", "FaultRule", "serve"]
