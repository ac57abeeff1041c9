"""opensspr: self-service password reset for cloud and on-premises directories."""

__version__ = "0.1.0"
