"""Hostile input everywhere: scenario files, DSNs, arguments, unwritable and full disks. No traceback, no secret."""
