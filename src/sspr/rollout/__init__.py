"""Rollout materials: the emails and the poster that tell an organisation's users about
self-service password reset, written from the organisation's own policy and addresses.

    materials   what the emails and the poster say (subject, text, HTML; QR codes)
    recipients  who a send reaches: a group's members, or the users still to register
    sending     one message per user through the configured email backend, audited
"""
