"""The service side of the on-premises agent: enrolment, signed channel, command queue, sync."""
