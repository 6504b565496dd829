"""The encoder lobe and what it is built from: the pretrained encoder
(where it comes from, which weights it holds), the PEFT lobe with its
injected adaptors, the heads, the layer split, padding masks,
activation checkpointing, and the trainable tensors' safetensors format.

Authors
 * speechbrain-peft-ser developers 2026
"""
