"""Small helpers shared by every layer: our error types and the command
wrapper that ends them in one line, and files written under the umask.

Authors
 * speechbrain-peft-ser developers 2026
"""
