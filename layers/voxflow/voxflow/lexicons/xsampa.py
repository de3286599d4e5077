"""X-SAMPA to IPA (John Wells's table), for lexicons written in alphabet="x-sampa".

Longest symbol first: ``r\\``` before ``r\\`` before ``r``. Lowercase letters without an
entry are the same in both alphabets; any other unknown symbol is an error, never a
silent drop.
"""

from voxflow.errors import InvalidLexicon

_SAME = frozenset("abcdefhijklmnopqrstuvwxyz")
_TABLE: dict[str, str] = {
    # Stress, length, syllables.
    '"': "ˈ", "%": "ˌ", ":": "ː", ":\\": "ˑ", ".": ".", "|": "|", "||": "‖",
    # Letters that differ.
    "g": "ɡ", "A": "ɑ", "B": "β", "C": "ç", "D": "ð", "E": "ɛ", "F": "ɱ", "G": "ɣ",
    "H": "ɥ", "I": "ɪ", "J": "ɲ", "K": "ɬ", "L": "ʎ", "M": "ɯ", "N": "ŋ", "O": "ɔ",
    "P": "ʋ", "Q": "ɒ", "R": "ʁ", "S": "ʃ", "T": "θ", "U": "ʊ", "V": "ʌ", "W": "ʍ",
    "X": "χ", "Y": "ʏ", "Z": "ʒ",
    # Digits and symbols.
    "@": "ə", "{": "æ", "}": "ʉ", "1": "ɨ", "2": "ø", "3": "ɜ", "4": "ɾ", "5": "ɫ",
    "6": "ɐ", "7": "ɤ", "8": "ɵ", "9": "œ", "&": "ɶ", "?": "ʔ", "?\\": "ʕ",
    "<\\": "ʢ", ">\\": "ʡ",
    # Backslash variants.
    "@\\": "ɘ", "3\\": "ɞ", "B\\": "ʙ", "G\\": "ɢ", "H\\": "ʜ", "I\\": "ᵻ", "J\\": "ɟ",
    "K\\": "ɮ", "L\\": "ʟ", "M\\": "ɰ", "N\\": "ɴ", "O\\": "ʘ", "R\\": "ʀ", "U\\": "ᵿ",
    "X\\": "ħ", "h\\": "ɦ", "j\\": "ʝ", "l\\": "ɺ", "p\\": "ɸ", "r\\": "ɹ", "s\\": "ɕ",
    "x\\": "ɧ", "z\\": "ʑ", "r\\`": "ɻ",
    # Retroflex and rhotic.
    "d`": "ɖ", "l`": "ɭ", "n`": "ɳ", "r`": "ɽ", "s`": "ʂ", "t`": "ʈ", "z`": "ʐ",
    "@`": "ɚ", "3`": "ɝ", "`": "˞",
    # Diacritics.
    "_h": "ʰ", "_w": "ʷ", "_j": "ʲ", "'": "ʲ", "_G": "ˠ", "_?\\": "ˤ", "~": "\u0303",
    "=": "\u0329", "_=": "\u0329", "_0": "\u0325", "_^": "\u032f", "_}": "\u031a",
}  # fmt: skip
_LONGEST = max(len(symbol) for symbol in _TABLE)


def xsampa_to_ipa(symbols: str) -> str:
    ipa: list[str] = []
    position = 0
    while position < len(symbols):
        for size in range(_LONGEST, 0, -1):
            symbol = symbols[position : position + size]
            if len(symbol) == size and symbol in _TABLE:
                ipa.append(_TABLE[symbol])
                break
        else:
            char = symbols[position]
            if char not in _SAME:
                raise InvalidLexicon(f"x-sampa symbol at position {position + 1} is not known")
            ipa.append(char)
            size = 1
        position += size
    return "".join(ipa)
