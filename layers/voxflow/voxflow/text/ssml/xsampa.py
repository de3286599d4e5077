"""X-SAMPA to IPA, for <phoneme alphabet="x-sampa">.

The table is X-SAMPA's own (Wells 1995) for the symbols English voices use and the
common diacritics; the longest symbol matches first, so "tS" is one affricate, not
"t" then "S". An unknown symbol is an error, never a silent drop.
"""

_TABLE = {
    # vowels
    "a": "a", "A": "ɑ", "{": "æ", "6": "ɐ", "Q": "ɒ", "e": "e", "E": "ɛ", "@": "ə",
    "3": "ɜ", "i": "i", "I": "ɪ", "o": "o", "O": "ɔ", "2": "ø", "9": "œ", "&": "ɶ",
    "u": "u", "U": "ʊ", "}": "ʉ", "V": "ʌ", "y": "y", "Y": "ʏ", "1": "ɨ", "M": "ɯ",
    "7": "ɤ", "8": "ɵ", "@`": "ɚ", "3`": "ɝ", "I\\": "ᵻ", "U\\": "ᵿ",
    # consonants
    "b": "b", "d": "d", "f": "f", "g": "ɡ", "h": "h", "j": "j", "k": "k", "l": "l",
    "m": "m", "n": "n", "p": "p", "r": "r", "s": "s", "t": "t", "v": "v", "w": "w",
    "x": "x", "z": "z", "B": "β", "C": "ç", "D": "ð", "F": "ɱ", "G": "ɣ", "H": "ɥ",
    "J": "ɲ", "K": "ɬ", "L": "ʎ", "N": "ŋ", "P": "ʋ", "R": "ʁ", "S": "ʃ", "T": "θ",
    "W": "ʍ", "X": "χ", "Z": "ʒ", "?": "ʔ", "4": "ɾ", "5": "ɫ", "r\\": "ɹ",
    "r\\`": "ɻ", "h\\": "ɦ", "j\\": "ʝ", "l`": "ɭ", "n`": "ɳ", "s`": "ʂ", "z`": "ʐ",
    "t`": "ʈ", "d`": "ɖ", "x\\": "ɧ", "?\\": "ʕ", "X\\": "ħ", "R\\": "ʀ", "B\\": "ʙ",
    "L\\": "ʟ", "N\\": "ɴ", "G\\": "ɢ", "J\\": "ɟ", "K\\": "ɮ", "M\\": "ɰ",
    "tS": "tʃ", "dZ": "dʒ", "ts": "ts", "dz": "dz",
    # suprasegmentals and diacritics
    '"': "ˈ", "%": "ˌ", ":": "ː", ":\\": "ˑ", ".": ".", "_h": "ʰ", "_w": "ʷ", "_j": "ʲ",
    "~": "̃", "=": "̩", "_0": "̥", "_~": "̃", "-": "", " ": " ", "|": "|", "||": "‖",
}  # fmt: skip
_LONGEST = max(len(symbol) for symbol in _TABLE)


def xsampa_to_ipa(xsampa: str) -> str | None:
    """The IPA for an X-SAMPA string, or None if it holds a symbol outside the table."""
    ipa: list[str] = []
    index = 0
    while index < len(xsampa):
        for size in range(min(_LONGEST, len(xsampa) - index), 0, -1):
            symbol = xsampa[index : index + size]
            if symbol in _TABLE:
                ipa.append(_TABLE[symbol])
                index += size
                break
        else:
            return None
    return "".join(ipa)
