"""Python source that makes `import torch` (and timm, torchvision) impossible, as on a device
without them: prepend it to a script run in a child process."""

BLOCK_TORCH = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "timm", "torchvision"):
            raise ImportError("blocked: " + name)
        return None
sys.meta_path.insert(0, _Block())
"""
