"""Stream JSON values out of a file one at a time, so memory contains one value, not the whole file."""

from __future__ import annotations

import codecs
import json
from decimal import Decimal
from typing import BinaryIO, Final

from otel_replay.formats.limits import growth_read_size, max_record_bytes, raw_decode, too_large

__all__ = ["JsonSyntaxError", "JsonValueStream"]

_DECODER: Final = json.JSONDecoder(parse_float=Decimal)
_CHUNK_SIZE: Final = 64 * 1024  # characters read at a time; a value that does not fit doubles the read
_WHITESPACE: Final = " \t\r\n"


class JsonSyntaxError(Exception):
    """The input is not valid JSON, is not UTF-8, or ends in the middle of a value."""

    def __init__(self, message: str, *, truncated: bool) -> None:
        super().__init__(message)
        self.message = message
        self.truncated = truncated


class JsonValueStream:
    """Decodes the JSON values of a binary stream one at a time, holding one value, not the file.

    A file is a sequence of top-level values: one document, several back to back, or one per
    line. `begin` and `has_next` walk the elements of an array or the members of an object, so
    a reader can take the elements of a large array one by one. Numbers with a fraction or an
    exponent are decoded as `Decimal`, and lone surrogate escapes are kept, for `values` to
    handle.
    """

    def __init__(self, file: BinaryIO) -> None:
        self.restart(file)

    def restart(self, file: BinaryIO) -> None:
        """Read `file` from its start, as a new stream would: for reading a file again."""
        self._file = file
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._text = ""
        self._position = 0
        self._end_of_file = False
        self._bytes_read = 0
        self._lines_before = 0  # newlines in the text already dropped from the buffer
        self._first: list[bool] = []  # per open array or object: no element taken yet

    def peek(self) -> str:
        """Return the next character that is not whitespace, without taking it; "" at the end."""
        while True:
            text = self._text
            length = len(text)
            position = self._position
            while position < length and text[position] in _WHITESPACE:
                position += 1
            self._position = position
            if position < length:
                return text[position]
            if not self._fill(_CHUNK_SIZE):
                return ""

    def begin(self, opening: str) -> None:
        """Take the opening bracket or brace of an array or object."""
        char = self.peek()
        if char != opening:
            raise self._syntax_error(f"expected {opening!r}, found {char or 'the end of the file'!r}")
        self._position += 1
        self._first.append(True)

    def has_next(self, closing: str) -> bool:
        """Take the comma before the next element; return False and take `closing` when there is none."""
        char = self.peek()
        if char == closing:
            self._position += 1
            self._first.pop()
            return False
        if not self._first[-1]:
            if char != ",":
                raise self._syntax_error(f"expected ',' or {closing!r}, found {char or 'the end of the file'!r}")
            self._position += 1
        self._first[-1] = False
        return True

    def key(self) -> str:
        """Take an object member's name and the colon after it."""
        name = self.value()
        if not isinstance(name, str):
            raise self._syntax_error("expected a string as the member name")
        if self.peek() != ":":
            raise self._syntax_error("expected ':' after the member name")
        self._position += 1
        return name

    def value(self) -> object:
        """Take and decode the next complete JSON value."""
        if not self.peek():
            raise JsonSyntaxError("the file ends where a value was expected", truncated=True)
        while True:
            try:
                value, end = raw_decode(_DECODER, self._text, self._position)
            except json.JSONDecodeError as error:
                if self._may_continue(error) and self._fill_value():
                    continue
                raise self._decode_error(error) from error
            # A number at the end of the buffer may continue in the next chunk.
            if end == len(self._text) and self._fill_value():
                continue
            if end - self._position > max_record_bytes():
                raise JsonSyntaxError(f"{too_large('the JSON value')} (line {self.line()})", truncated=False)
            self._position = end
            return value

    def indentation(self) -> str | None:
        """Return the whitespace between the last line break and the position, or None without a line break.

        Call it after `peek`. It returns None also when the line break has already left the buffer.
        """
        line_start = self._text.rfind("\n", 0, self._position)
        if line_start < 0:
            return None
        indentation = self._text[line_start + 1 : self._position]
        return indentation if indentation.strip(_WHITESPACE) == "" else None

    def text_through(self, closing: str) -> str | None:
        """Return the text from the position through the next `closing`, without taking it; None at the end.

        A pretty-printer ends an element on a line of its own, such as ``"\\n    }"``, so this
        finds an element's text without decoding it. The caller must check that the text is
        one complete value, then take it with `skip`.
        """
        searched = 0  # characters after the position already searched
        while True:
            start = self._position
            end = self._text.find(closing, start + searched)
            if end >= 0:
                return self._text[start : end + len(closing)]
            searched = max(0, len(self._text) - start - len(closing) + 1)
            if not self._fill(_CHUNK_SIZE):
                return None

    def texts_through(self, closing: str, size: int) -> str | None:
        """Return the text from the position through the last `closing` in the next `size` characters.

        Like `text_through`, but for as many elements as fit, so that one call cuts many
        elements. Returns None when `closing` does not occur in that text, such as for an
        element longer than `size`. The caller must check each element and take the text with `skip`.
        """
        while len(self._text) - self._position < size and self._fill(size):
            pass
        start = self._position
        end = self._text.rfind(closing, start, start + size)
        if end < 0:
            return None
        return self._text[start : end + len(closing)]

    def skip(self, length: int) -> None:
        """Take `length` characters that `text_through` returned."""
        self._position += length

    def line(self) -> int:
        """Return the 1-based line number of the current position."""
        return self._lines_before + self._text.count("\n", 0, self._position) + 1

    def _fill_value(self) -> bool:
        """Read more of an incomplete value, as `_fill` does, unless it would exceed the record size limit."""
        pending = len(self._text) - self._position
        if pending > max_record_bytes():
            raise JsonSyntaxError(f"{too_large('the JSON value')} (line {self.line()})", truncated=False)
        return self._fill(growth_read_size(pending))

    def _fill(self, size: int) -> bool:
        """Append at least `size` more characters to the buffer; return False at the end of the file.

        The buffer drops the text before the position only when more text arrives, so that a
        failed decode's error position stays valid at the end of the file.
        """
        if self._end_of_file:
            return False
        data = self._file.read(max(size, _CHUNK_SIZE))
        self._bytes_read += len(data)
        try:
            chunk = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            offset = self._bytes_read - len(data) + error.start
            raise JsonSyntaxError(f"not UTF-8 text: invalid byte at offset {offset}", truncated=False) from error
        if not data:
            self._end_of_file = True
            return False

        if self._position:
            self._lines_before += self._text.count("\n", 0, self._position)
            self._text = self._text[self._position :]
            self._position = 0
        self._text += chunk
        return True

    def _may_continue(self, error: json.JSONDecodeError) -> bool:
        # An incomplete value fails at or just before the end of the buffer (a literal such as
        # "tru" fails at its start), except an unterminated string, which fails at its opening quote.
        return error.msg.startswith("Unterminated string") or error.pos >= len(self._text) - 6

    def _decode_error(self, error: json.JSONDecodeError) -> JsonSyntaxError:
        truncated = self._end_of_file and self._is_cut_short(error)
        line = self._lines_before + error.lineno
        return JsonSyntaxError(f"{error.msg} (line {line}, column {error.colno})", truncated=truncated)

    def _is_cut_short(self, error: json.JSONDecodeError) -> bool:
        # At the end of the file, the value is truncated, not invalid, when nothing follows the
        # error but the start of a token.
        rest = self._text[error.pos :].rstrip()
        if error.msg.startswith("Unterminated string") or not rest:
            return True
        if error.msg.startswith("Invalid \\uXXXX escape"):
            return len(rest) < 6
        return any(literal.startswith(rest) for literal in ("true", "false", "null"))

    def _syntax_error(self, message: str) -> JsonSyntaxError:
        truncated = self._end_of_file and self._position >= len(self._text)
        return JsonSyntaxError(f"{message} at line {self.line()}", truncated=truncated)


# --- documents and traces ----------------------------------------------------------------
