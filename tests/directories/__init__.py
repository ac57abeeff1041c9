"""Real directory servers for tests: private instances that a test run starts and stops itself.

`samba.SambaDC` is an Active Directory domain controller (Samba 4, LDAPS on 127.0.0.1:636).
"""
