"""sspr-agent: the on-premises side. No Django; ldap3, PyNaCl and the standard library."""

__version__ = "0.1.0"
