"""The messages the service and the on-premises agent exchange. Standard library only.

Both sides import this package; a message's `version` lets either side refuse what it does not
understand instead of guessing.
"""

VERSION = 1
