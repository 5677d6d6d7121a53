"""Text to model inputs: validation, sentence splitting and WordPiece encoding with offsets.

Imported by the Triton tokenizer models (through ``triton_tokenizer``) and usable on its own,
without a server, which is how the unit tests exercise it.
"""

from clinserve_preprocess.encoding import EncodedBatch, TextEncoder, bucket_length
from clinserve_preprocess.sentences import split_sentences
from clinserve_preprocess.validation import InputError, decode_text, validate_text

__all__ = [
    "EncodedBatch",
    "InputError",
    "TextEncoder",
    "bucket_length",
    "decode_text",
    "split_sentences",
    "validate_text",
]
