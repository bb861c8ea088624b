"""Diagnostics in the reader's language: the Dutch form of every message, keyed by its English template.

The checker and the parser build their messages in English (``Diagnostic.message`` stays English,
for tools and tests); a diagnostic about a Dutch file is shown in Dutch when it is rendered, as
text or as JSON. A new message needs one line in ``DUTCH``: its English text with ``{…}`` where
a part varies, and its Dutch form with the same parts. A part between backquotes in the English
template is code (a name, a keyword, a value as written) and is kept as it is, and so is any
part whose name is not in ``TRANSLATED``; a part named in ``TRANSLATED`` is English itself (a
type such as "an amount of money", the reason a table cell is wrong, a list of what was
expected) and is looked up here in turn, so that a message built from pieces reads in one
language. A text that matches no template is translated piece by piece at its "; ".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["DUTCH", "TRANSLATED", "dutch_form", "translate", "label"]

TRANSLATED = frozenset({
    "type", "type2", "item", "items", "what", "reason", "why", "kind", "kind2", "words", "steps",
})
"""Names of template parts that hold English words, translated in turn."""

DUTCH: dict[str, str] = {
    # ------------------------------------------------------------ syntax
    "unexpected character `{ch}`": "onverwacht teken `{ch}`",
    "unexpected {item}": "{item} is hier niet verwacht",
    "the file ends too early": "het bestand eindigt te vroeg",
    "the declaration ends too early": "het onderdeel eindigt te vroeg",
    "expected one of {items}": "verwacht werd een van: {items}",
    "expected {item}": "verwacht werd {item}",
    "the expression before `{word}` is not complete": "de uitdrukking vóór `{word}` is niet af",
    "`{word}` is a keyword; finish the expression before it (a value or a name is missing)":
        "`{word}` is een sleutelwoord; maak de uitdrukking ervoor af (er ontbreekt een waarde of een naam)",
    "`{word}` is a keyword; choose another name or check what comes before it":
        "`{word}` is een sleutelwoord; kies een andere naam of kijk wat ervoor staat",
    "did you mean `{name}`?": "bedoelt u `{name}`?",
    "`{word}` is an English keyword; this file is in Dutch (`taal nederlands`): write `{keyword}`":
        "`{word}` is een Engels sleutelwoord; dit bestand is Nederlands (`taal nederlands`): schrijf `{keyword}`",
    "`{word}` is a Dutch keyword; this file is in English: write `{keyword}`":
        "`{word}` is een Nederlands sleutelwoord; dit bestand is Engels: schrijf `{keyword}`",
    'texts are written in double quotes: "…"': 'teksten staan tussen dubbele aanhalingstekens: "…"',
    "compare with a single `=`": "vergelijk met één `=`",
    "write amounts as € 12,34 or € 12.34 (no thousands separators)":
        "schrijf bedragen als € 12,34 of € 12.34 (zonder scheidingstekens voor duizendtallen)",
    "write `{and}`, `{or}` and `{not}` as words": "schrijf `{and}`, `{or}` en `{not}` als woorden",
    "`{date}` is not a valid date ({why})": "`{date}` is geen geldige datum ({why})",
    "day is out of range for month": "die dag bestaat niet in die maand",
    "month must be in 1..12": "de maand ligt tussen 1 en 12",
    "year 0 is out of range": "het jaar 0 bestaat niet",
    "unknown language `{language}`": "onbekende taal `{language}`",
    "write `language english` or `taal nederlands` on the first line":
        "schrijf `taal nederlands` of `language english` op de eerste regel",
    "this expression nests more than {depth} levels deep": "deze uitdrukking is meer dan {depth} niveaus diep genest",
    "`{value}` is not a valid number ({why})": "`{value}` is geen geldig getal ({why})",
    "write numbers with the digits 0-9": "schrijf getallen met de cijfers 0-9",
    "it is out of range: a number has at most {count} digits before the decimal point":
        "het valt buiten het bereik: een getal heeft ten hoogste {count} cijfers voor de komma",
    "a number has at most {count} digits after the decimal point":
        "een getal heeft ten hoogste {count} cijfers na de komma",
    "split it into derived values, each with its own rule": "splits haar op in afgeleide waarden, elk met een eigen regel",
    "the file is not UTF-8 text ({why})": "het bestand is geen UTF-8-tekst ({why})",
    "invalid start byte": "ongeldige beginbyte",
    "invalid continuation byte": "ongeldige vervolgbyte",
    "unexpected end of data": "onverwacht einde van de gegevens",
    "save the file as UTF-8": "sla het bestand op als UTF-8",
    # what the parser expected
    "a value or a name": "een waarde of een naam",
    "an operator": "een bewerking",
    "a name": "een naam",
    'a text in double quotes ("…")': 'een tekst tussen dubbele aanhalingstekens ("…")',
    "a whole number": "een geheel getal",
    "a decimal number": "een decimaal getal",
    "a percentage": "een percentage",
    "an amount (€ 12,34)": "een bedrag (€ 12,34)",
    "a date (YYYY-MM-DD)": "een datum (JJJJ-MM-DD)",
    "a comparison (<, <=, >, >=, !=)": "een vergelijking (<, <=, >, >=, !=)",
    "`{a}` or `{b}`": "`{a}` of `{b}`",
    "the end of the file": "het einde van het bestand",
    # ------------------------------------------------------------ names and declarations
    "unknown name `{name}`": "onbekende naam `{name}`",
    "unknown function `{name}`": "onbekende functie `{name}`",
    "unknown table `{name}`": "onbekende tabel `{name}`",
    "unknown source `{name}`": "onbekende bron `{name}`",
    "the functions are: {names}": "de functies zijn: {names}",
    'declare it in the ruleset header: `source <id> "<title>" url "…"`':
        'declareer haar in de kop van de regelset: `bron <id> "<titel>" url "…"`',
    "`{name}` is not a declared output or derived value": "`{name}` is geen gedeclareerde uitvoer of afgeleide waarde",
    "declare it: `{output} {name} : <type>`": "declareer het: `{output} {name} : <type>`",
    "{what} is declared twice": "{what} is twee keer gedeclareerd",
    "input `{name}`": "invoer `{name}`",
    "derived value `{name}`": "afgeleide waarde `{name}`",
    "output `{name}`": "uitvoer `{name}`",
    "parameter `{name}`": "parameter `{name}`",
    "table `{name}`": "tabel `{name}`",
    "rule `{name}`": "regel `{name}`",
    "`{name}` ({kind} and {kind2})": "`{name}` ({kind} en {kind2})",
    "an input": "een invoer",
    "a derived value": "een afgeleide waarde",
    "an output": "een uitvoer",
    "a parameter": "een parameter",
    "a rule": "een regel",
    "rename one of them": "geef een van beide een andere naam",
    "declare each name once in the rule book": "declareer elke naam één keer in het regelboek",
    "first declared here": "hier voor het eerst gedeclareerd",
    "ruleset `{name}` is declared twice": "regelset `{name}` is twee keer gedeclareerd",
    "source `{name}` is declared twice": "bron `{name}` is twee keer gedeclareerd",
    "give each source its own id": "geef elke bron een eigen id",
    "the peildatum is declared twice": "de peildatum is twee keer gedeclareerd",
    "declare the peildatum once for the whole rule book": "declareer de peildatum één keer voor het hele regelboek",
    "the choice `{name}` is listed twice": "de keuze `{name}` staat er twee keer in",
    "the rule book declares no peildatum": "het regelboek declareert geen peildatum",
    "declare `peildatum <date input>` so that every case is read on its own date; without it every evaluation "
    "needs an explicit date (--on)":
        "declareer `peildatum <datum-invoer>`, zodat elke casus op zijn eigen datum wordt gelezen; zonder peildatum "
        "heeft elke evaluatie een datum nodig (--on)",
    "the peildatum `{name}` is not a declared input": "de peildatum `{name}` is geen gedeclareerde invoer",
    "the peildatum `{name}` must be a date input, not {type}": "de peildatum `{name}` moet een datum-invoer zijn; dit is {type}",
    # ------------------------------------------------------------ tables
    "the key `{key}` of table `{name}` is not a declared column":
        "de sleutel `{key}` van tabel `{name}` is geen gedeclareerde kolom",
    "add `column {key} : text` (or its type) to the table": "voeg `kolom {key} : tekst` (of het juiste type) toe aan de tabel",
    "the validity column `{name}` must be a date column": "de geldigheidskolom `{name}` moet een datumkolom zijn",
    "table file `{file}` of table `{name}` cannot be read": "het tabelbestand `{file}` van tabel `{name}` is niet te lezen",
    "looked for {path}; table files are named relative to the rule file":
        "gezocht naar {path}; een tabelbestand wordt genoemd vanuit de map van het regelbestand",
    "{file} is not UTF-8 text": "{file} is geen UTF-8-tekst",
    "{file} is empty; it needs a header line": "{file} is leeg; er is een kopregel nodig",
    "{file}: the header has no column `{name}`": "{file}: de kopregel heeft geen kolom `{name}`",
    "the header of the file": "de kopregel van het bestand",
    "the header is: {names}": "de kopregel is: {names}",
    "{file}, row {row}: has {count} cells, the header has {header}":
        "{file}, rij {row}: heeft {count} cellen, de kopregel heeft er {header}",
    "{file}, row {row}, column `{name}`: {reason}": "{file}, rij {row}, kolom `{name}`: {reason}",
    "{file}, row {row}: the key is empty": "{file}, rij {row}: de sleutel is leeg",
    "{file}, row {row}: the period ends ({end}) before it starts ({start})":
        "{file}, rij {row}: de periode eindigt ({end}) voordat die begint ({start})",
    "{file}, row {row}: key ({key}) is already in force in this period (row {other})":
        "{file}, rij {row}: sleutel ({key}) geldt in deze periode al (rij {other})",
    "give the rows periods that do not overlap": "geef de rijen perioden die elkaar niet overlappen",
    "each key may stand in the table once; add validity columns for dated rows":
        "elke sleutel mag één keer in de tabel staan; voeg geldigheidskolommen toe voor rijen met een datum",
    "the other row": "de andere rij",
    "`{cell}` is not one of: {choices}": "`{cell}` is niet een van: {choices}",
    "expected {item}, got `{cell}`": "verwacht werd {item}, maar er staat `{cell}`",
    "an amount": "een bedrag",
    "a number": "een getal",
    "a finite number": "een eindig getal",
    "ja/nee (true/false)": "ja/nee (true/false)",
    "columns of type {item} are not supported": "kolommen van het type {item} worden niet ondersteund",
    "{reason}, got `{cell}`": "{reason}, maar er staat `{cell}`",
    "an amount in a case is never negative, got `{cell}`": "een bedrag in een casus is nooit negatief, maar er staat `{cell}`",
    "the number is out of range: more than {count} digits": "het getal valt buiten het bereik: meer dan {count} cijfers",
    "the number is out of range: more than {count} digits before the decimal point":
        "het getal valt buiten het bereik: meer dan {count} cijfers voor de komma",
    "the number has more than {count} digits after the decimal point":
        "het getal heeft meer dan {count} cijfers na de komma",
    "{file}: the header line is not valid CSV ({why})": "{file}: de kopregel is geen geldige CSV ({why})",
    "{file}, row {row}: {reason}": "{file}, rij {row}: {reason}",
    "not valid CSV ({why})": "geen geldige CSV ({why})",
    "table file `{file}` of table `{name}` is not read: it is an absolute path":
        "het tabelbestand `{file}` van tabel `{name}` wordt niet gelezen: het is een absoluut pad",
    "name the table file relative to the rule file, inside the rule book's folder {folder}":
        "noem het tabelbestand vanuit de map van het regelbestand, binnen de map van het regelboek {folder}",
    "table file `{file}` of table `{name}` is not read: {reason}":
        "het tabelbestand `{file}` van tabel `{name}` wordt niet gelezen: {reason}",
    "looked for {path}; a table file is a CSV file inside the rule book's folder {folder}, named relative to the "
    "rule file": "gezocht naar {path}; een tabelbestand is een CSV-bestand binnen de map van het regelboek {folder}, "
                 "genoemd vanuit de map van het regelbestand",
    # why a file of the rule book is not read (files.FileRefused)
    "it lies outside the rule book's folder {folder} (a symbolic link or `..` pointing out)":
        "het ligt buiten de map van het regelboek {folder} (een symbolische koppeling of `..` die naar buiten wijst)",
    "it is a symbolic link that loops (it points back to itself)":
        "het is een symbolische koppeling die in een kring wijst (naar zichzelf terug)",
    "it is not a regular file (a folder, a device or a pipe)":
        "het is geen gewoon bestand (een map, een apparaat of een pijp)",
    "it is larger than {size} ({count} bytes)": "het is groter dan {size} ({count} bytes)",
    "it is larger than {size}": "het is groter dan {size}",
    "it cannot be read ({why})": "het is niet te lezen ({why})",
    "it cannot be found ({why})": "het is niet te vinden ({why})",
    "its name holds a character a file name cannot hold": "de naam bevat een teken dat een bestandsnaam niet kan bevatten",
    "the rule file is not read: {reason}": "het regelbestand wordt niet gelezen: {reason}",
    "a rule file is a regular file inside the rule book's folder":
        "een regelbestand is een gewoon bestand binnen de map van het regelboek",
    # ------------------------------------------------------------ parameters
    "parameter `{name}` has no values": "parameter `{name}` heeft geen waarden",
    "add `from <date> = <value>`; write `unknown` where no value is known":
        "voeg `vanaf <datum> = <waarde>` toe; schrijf `onbekend` waar geen waarde bekend is",
    "this period of `{name}` ends ({end}) before it starts ({start})":
        "deze periode van `{name}` eindigt ({end}) voordat die begint ({start})",
    "`{name}` is {type}, but this value is {type2}": "`{name}` is {type}, maar deze waarde is {type2}",
    "this value of `{name}` has no source": "deze waarde van `{name}` heeft geen bron",
    'add `source <id> "<detail>"` so that every figure can be traced':
        'voeg `bron <id> "<detail>"` toe, zodat elk getal te herleiden is',
    "periods of `{name}` overlap: {start}–{end} and from {next}":
        "perioden van `{name}` overlappen: {start}–{end} en vanaf {next}",
    "end the earlier period before the later one starts": "laat de eerdere periode eindigen voordat de latere begint",
    "the earlier period": "de eerdere periode",
    "two values of `{name}` start on {date}": "twee waarden van `{name}` beginnen op {date}",
    # ------------------------------------------------------------ values and rules
    "`{name}` has a definition and is also assigned by rule `{rule}`":
        "`{name}` heeft een definitie en wordt ook bepaald door regel `{rule}`",
    "either define it with `= …` or assign it with rules, not both":
        "definieer het met `= …` of bepaal het met regels, niet allebei",
    "the definition": "de definitie",
    "no rule decides `{name}` and it has no default": "geen regel bepaalt `{name}` en er is geen standaardwaarde",
    "add a rule with `{then} {name} = …` or a `{default}`": "voeg een regel toe met `{then} {name} = …`, of een `{default}`",
    "rule `{name}` has more than one `{keyword}`": "regel `{name}` heeft meer dan één `{keyword}`",
    "combine conditions with `{and}`; a rule assigns one value":
        "combineer voorwaarden met `{and}`; een regel bepaalt één waarde",
    "rule `{name}` ends ({end}) before it starts ({start})": "regel `{name}` eindigt ({end}) voordat die begint ({start})",
    "check the dates of `valid from` and `until`": "controleer de datums van `geldig vanaf` en `tot en met`",
    "rule `{name}` has no source": "regel `{name}` heeft geen bron",
    'add `{source} <id> "<article>"` so that every decision can be traced':
        'voeg `{source} <id> "<artikel>"` toe, zodat elke beslissing te herleiden is',
    "rule `{name}` has no `{then}`": "regel `{name}` heeft geen `{then}`",
    "say what the rule decides: `{then} <output> = <value>`": "zeg wat de regel bepaalt: `{then} <uitvoer> = <waarde>`",
    "rule `{name}` assigns the input `{target}`": "regel `{name}` bepaalt de invoer `{target}`",
    "inputs come from the case; declare an output or derived value to assign":
        "invoer komt uit de casus; declareer een uitvoer of afgeleide waarde om te bepalen",
    "rule `{name}` assigns the parameter `{target}`": "regel `{name}` bepaalt de parameter `{target}`",
    "parameters take their dated values; declare an output or derived value to assign":
        "een parameter krijgt zijn gedateerde waarden; declareer een uitvoer of afgeleide waarde om te bepalen",
    # ------------------------------------------------------------ exceptions, cycles, overlaps
    "rule `{name}` is an exception to itself": "regel `{name}` is een uitzondering op zichzelf",
    "rule `{name}` is an exception to `{parent}`, which does not exist":
        "regel `{name}` is een uitzondering op `{parent}`, maar die bestaat niet",
    "rule `{name}` assigns `{target}` but is an exception to `{parent}`, which assigns `{other}`":
        "regel `{name}` bepaalt `{target}`, maar is een uitzondering op `{parent}`, die `{other}` bepaalt",
    "an exception must decide the same output as the rule it overrides":
        "een uitzondering bepaalt dezelfde uitvoer als de regel waar zij voor gaat",
    "the other rule": "de andere regel",
    "exceptions form a cycle: {path}": "uitzonderingen vormen een kring: {path}",
    "exceptions nest {count} levels deep below rule `{name}`; at most {max} levels are allowed":
        "uitzonderingen zijn {count} niveaus diep genest onder regel `{name}`; ten hoogste {max} niveaus zijn toegestaan",
    "make some of them exceptions to the same rule, or give them conditions that exclude each other":
        "maak een deel ervan uitzondering op dezelfde regel, of geef ze voorwaarden die elkaar uitsluiten",
    "values depend on each other in a cycle: {steps}": "waarden hangen in een kring van elkaar af: {steps}",
    "`{value}` uses `{other}` (rule `{rule}`)": "`{value}` gebruikt `{other}` (regel `{rule}`)",
    "`{value}` uses `{other}` (its definition)": "`{value}` gebruikt `{other}` (in de definitie)",
    "a value cannot depend on itself; break the cycle": "een waarde kan niet van zichzelf afhangen; doorbreek de kring",
    "rules `{a}` and `{b}` both decide `{name}`, can both apply, and are not related by an exception":
        "regels `{a}` en `{b}` bepalen allebei `{name}`, kunnen allebei van toepassing zijn en zijn niet door een "
        "uitzondering verbonden",
    "if both apply the answer is a conflict; make one an exception to the other (`{exception} {a}`) or add a "
    "condition that excludes the other":
        "als beide van toepassing zijn, is het antwoord een conflict; maak de ene een uitzondering op de andere "
        "(`{exception} {a}`) of voeg een voorwaarde toe die de andere uitsluit",
    # ------------------------------------------------------------ expressions and types
    "{what} must be {type}, but this is {type2}": "{what} moet {type} zijn, maar dit is {type2}",
    "the condition": "de voorwaarde",
    "the value of `{name}`": "de waarde van `{name}`",
    "the definition of `{name}`": "de definitie van `{name}`",
    "the default of `{name}`": "de standaardwaarde van `{name}`",
    "`{value}` is not one of the choices: {choices}": "`{value}` is geen van de keuzes: {choices}",
    "`{value}` is not a declared name, nor one of the choices: {choices}":
        "`{value}` is geen gedeclareerde naam en ook geen van de keuzes: {choices}",
    "`not` needs a boolean, but this is {type}": "`niet` vraagt om ja of nee, maar dit is {type}",
    "`{op}` needs a number or an amount, but this is {type}": "`{op}` vraagt om een getal of een bedrag, maar dit is {type}",
    "`is known` / `is missing` applies to an input, a value, a parameter or a table look-up":
        "`is bekend` / `ontbreekt` geldt voor een invoer, een waarde, een parameter of een opzoeking in een tabel",
    "`{op}` joins conditions, but this is {type}": "`{op}` verbindt voorwaarden, maar dit is {type}",
    "compare it with something to make a condition": "vergelijk het met iets om er een voorwaarde van te maken",
    "cannot compare {type} with {type2}": "{type} is niet te vergelijken met {type2}",
    "`{op}` needs numbers, amounts or dates; use `=` or `!=` for {type}":
        "`{op}` vraagt om getallen, bedragen of datums; gebruik `=` of `!=` voor {type}",
    "`in` needs a list or a table on its right, but this is {type}":
        "`in` vraagt rechts om een lijst of een tabel, maar dit is {type}",
    "cannot look for {type} in {type2}": "{type} is niet te zoeken in {type2}",
    "table `{name}` has a key of {count} column(s) ({keys}), not {given}":
        "tabel `{name}` heeft een sleutel van {count} kolom(men) ({keys}), niet {given}",
    "table `{name}` has a key of {count} columns ({keys}); write ({keys2}) in {table}":
        "tabel `{name}` heeft een sleutel van {count} kolommen ({keys}); schrijf ({keys2}) in {table}",
    "the key of table `{name}` is {type}, but this is {type2}": "de sleutel van tabel `{name}` is {type}, maar dit is {type2}",
    "cannot apply `{op}` to {type} and {type2}": "`{op}` is niet toe te passen op {type} en {type2}",
    "a date moves by a duration: write `{written}` (or {others})":
        "een datum verschuift met een duur: schrijf `{written}` (of {others})",
    "write amounts with a euro sign: € 12,34": "schrijf bedragen met een euroteken: € 12,34",
    "an amount is not a plain number; compare it with an amount (€ …)":
        "een bedrag is geen kaal getal; vergelijk het met een bedrag (€ …)",
    "write dates as 2024-01-01, without quotes": "schrijf datums als 2024-01-01, zonder aanhalingstekens",
    "compare a date with a date (2024-01-01), or use year(…) to compare years":
        "vergelijk een datum met een datum (2024-01-01), of gebruik jaar(…) om jaren te vergelijken",
    "a list holds values of one type; this is {type}, the first is {type2}":
        "een lijst bevat waarden van één type; dit is {type}, de eerste is {type2}",
    "`{name}` takes {count} argument(s), not {given}": "`{name}` heeft {count} argument(en), niet {given}",
    "argument {index} of `{name}` must be {words}, but this is {type}":
        "argument {index} van `{name}` moet {words} zijn, maar dit is {type}",
    "a list": "een lijst",
    "an amount or a number": "een bedrag of een getal",
    "`{name}` takes two or more arguments": "`{name}` heeft twee of meer argumenten",
    "`{name}` compares values of one kind; argument {index} is {type}, argument 1 is {type2}":
        "`{name}` vergelijkt waarden van één soort; argument {index} is {type}, argument 1 is {type2}",
    "table `{name}` has no column `{column}`": "tabel `{name}` heeft geen kolom `{column}`",
    "its columns are: {names}": "de kolommen zijn: {names}",
    "the key `{key}` of table `{name}` is {type}, but this is {type2}":
        "de sleutel `{key}` van tabel `{name}` is {type}, maar dit is {type2}",
    # ------------------------------------------------------------ amounts, conditional values, rounding
    "write amounts as € 12,34, € 12.34 or € 1.234,56": "schrijf bedragen als € 12,34, € 12.34 of € 1.234,56",
    "`{amount}` is not an amount": "`{amount}` is geen bedrag",
    "`{amount}` is written with English grouping": "`{amount}` is geschreven met Engelse groepering",
    "write the Dutch way, with a decimal comma: € 1.234,56 (or € 1234.56)":
        "schrijf op zijn Nederlands, met een decimale komma: € 1.234,56 (of € 1234.56)",
    "`{amount}` can be read two ways: a dot followed by three digits groups thousands in Dutch notation":
        "`{amount}` is op twee manieren te lezen: een punt met drie cijfers erachter scheidt in Nederlandse notatie "
        "duizendtallen",
    "write € {whole},{fraction} for an amount with three decimals, or group thousands from the left (€ 1.234)":
        "schrijf € {whole},{fraction} voor een bedrag met drie decimalen, of scheid duizendtallen vanaf links (€ 1.234)",
    "`{amount}` can be read two ways: a comma followed by three digits groups thousands in English notation":
        "`{amount}` is op twee manieren te lezen: een komma met drie cijfers erachter scheidt in Engelse notatie "
        "duizendtallen",
    "write € {whole}.{fraction} for {euros} euros (Dutch notation), or € {whole2},{fraction2}0 for an amount with "
    "three decimals":
        "schrijf € {whole}.{fraction} voor {euros} euro (Nederlandse notatie), of € {whole2},{fraction2}0 voor een "
        "bedrag met drie decimalen",
    "`{amount}` groups its digits wrongly: a dot groups three digits, counted from the decimal comma":
        "`{amount}` groepeert de cijfers verkeerd: een punt scheidt drie cijfers, geteld vanaf de decimale komma",
    "write € 1.234.567,89, or the digits without dots": "schrijf € 1.234.567,89, of de cijfers zonder punten",
    "`{amount}`: `,–` stands for no cents and follows the whole euros":
        "`{amount}`: `,–` betekent geen centen en staat na de hele euro's",
    "write € 2.112,– or € 2.112,00": "schrijf € 2.112,– of € 2.112,00",
    "`{value}` has more digits than an amount in cents; amounts are never rounded here":
        "`{value}` heeft meer cijfers dan een bedrag in centen; bedragen worden hier nooit afgerond",
    "the condition of a conditional value must be a condition, but this is {type}":
        "de voorwaarde van een voorwaardelijke waarde moet een voorwaarde zijn, maar dit is {type}",
    "a conditional value gives values of one type, but this is {type} and the other is {type2}":
        "een voorwaardelijke waarde geeft waarden van één type, maar dit is {type} en de andere is {type2}",
    "only an amount is rounded to cents or whole euros; this is {type}, which is rounded to a whole number":
        "alleen een bedrag wordt afgerond op centen of hele euro's; dit is {type}, dat wordt afgerond op een heel "
        "getal",
    "leave out the unit, or round an amount (€)": "laat de eenheid weg, of rond een bedrag (€) af",
    "a list of names that are not declared": "een lijst van namen die niet gedeclareerd zijn",
    "a name that is not declared": "een naam die niet gedeclareerd is",
    # ------------------------------------------------------------ sources of values, list values
    "table `{name}` cites more than one source": "tabel `{name}` noemt meer dan één bron",
    "cite the table's source once; give each row its own detail with a source column (`{source} {column} <column>`)":
        "noem de bron van de tabel één keer; geef elke rij een eigen detail met een bronkolom "
        "(`{source} {column} <kolom>`)",
    "a value of `{name}` is written out: a list of values, not a computation":
        "een waarde van `{name}` wordt uitgeschreven: een lijst van waarden, geen berekening",
    'write each item as a value: [€ 10, € 20], ["A1", "B2"], [a, b]':
        'schrijf elk element als een waarde: [€ 10, € 20], ["A1", "B2"], [a, b]',
    "the items of `{name}` are {type}, but this is {type2}": "de elementen van `{name}` zijn {type}, maar dit is {type2}",
    "`{name}` cites a source but has no definition": "`{name}` noemt een bron maar heeft geen definitie",
    "a source on a derived value cites its definition (`= …`); rules that assign it cite their own sources":
        "een bron bij een afgeleide waarde hoort bij haar definitie (`= …`); regels die haar bepalen noemen hun "
        "eigen bronnen",
    # ------------------------------------------------------------ groups of facts
    "`{name}` is decided per `{record}`: one value for each record, not one for the case":
        "`{name}` wordt per `{record}` bepaald: een waarde voor elk record, niet één voor de casus",
    "write `{record}.{name}` in a value per `{record2}` or in an aggregate: `{sum}({record3}.{name2})`":
        "schrijf `{record}.{name}` in een waarde per `{record2}` of in een aggregaat: `{sum}({record3}.{name2})`",
    "`{record}` is one record of `{group}`, not a value": "`{record}` is één record van `{group}`, geen waarde",
    "read one of its fields (`{record}.<field>`), or count the records: `{count}({record2})`":
        "lees een van zijn velden (`{record}.<veld>`), of tel de records: `{count}({record2})`",
    "`{name}` is read from each record of `{group}`; there is no one `{record}` here":
        "`{name}` wordt uit elk record van `{group}` gelezen; hier is er niet één `{record}`",
    "`{name}` is read from each record of `{group}`; here each `{other}` is at hand, not one `{record}`":
        "`{name}` wordt uit elk record van `{group}` gelezen; hier gaat het om elke `{other}`, niet om één "
        "`{record}`",
    "use it in a value per `{record}` (`{derived} <name> {per} {record2} : …`) or in an aggregate such as "
    "`{sum}({name})`":
        "gebruik het in een waarde per `{record}` (`{derived} <naam> {per} {record2} : …`) of in een aggregaat "
        "zoals `{sum}({name})`",
    "a condition": "een voorwaarde",
    "`{record}` has no field or value `{name}`": "`{record}` heeft geen veld of waarde `{name}`",
    "the fields of `{record}` are: {names}": "de velden van `{record}` zijn: {names}",
    "`{func}` is taken over the records of a group, one expression per record":
        "`{func}` wordt genomen over de records van een groep, één uitdrukking per record",
    "write for instance `{func}(<record>.<field>)`": "schrijf bijvoorbeeld `{func}(<record>.<veld>)`",
    "the records are: {names}": "de records zijn: {names}",
    "declare a group first: `group <record> in <path in a case>`":
        "declareer eerst een groep: `groep <record> in <plaats in een casus>`",
    "`{func}` is taken over one group, but this reads `{record}` and `{record2}`":
        "`{func}` wordt genomen over één groep, maar dit leest `{record}` en `{record2}`",
    "name the aggregate over one group as a value first, and use that":
        "geef het aggregaat over één groep eerst een naam als waarde, en gebruik die",
    "an aggregate over `{record}` cannot be taken inside a value per `{record2}` or inside another aggregate":
        "een aggregaat over `{record}` kan niet worden genomen binnen een waarde per `{record2}` of binnen een "
        "ander aggregaat",
    "name it first: `{derived} <name> : … = {func}(…)`, and use the name":
        "geef het eerst een naam: `{derived} <naam> : … = {func}(…)`, en gebruik de naam",
    "the condition of `{func}` must be a condition, but this is {type}":
        "de voorwaarde van `{func}` moet een voorwaarde zijn, maar dit is {type}",
    "`{func}` counts records: write `{func2}({record})`, or `{func3}({record2} {where} …)` to count those for which "
    "a condition holds":
        "`{func}` telt records: schrijf `{func2}({record})`, of `{func3}({record2} {where} …)` om de records te "
        "tellen waarvoor een voorwaarde geldt",
    "`{func}` takes {what} per record, but this is {type}": "`{func}` neemt {what} per record, maar dit is {type}",
    "a number or an amount": "een getal of een bedrag",
    "a number, an amount or a date": "een getal, een bedrag of een datum",
    "`{where}` gives the condition of an aggregate over a group (sum, count, minimum, maximum, all, any); `{func}` is "
    "none":
        "`{where}` geeft de voorwaarde van een aggregaat over een groep (som, aantal, minimum, maximum, alle, enige); "
        "`{func}` is er geen",
    "two groups are read from `{path}`: `{name}` and `{name2}`": "twee groepen worden gelezen uit `{path}`: `{name}` en "
        "`{name2}`",
    "a list of records in a case is one group; give it one name":
        "een lijst van records in een casus is één groep; geef haar één naam",
    "the other group": "de andere groep",
    "the group `{name}` is read from `{path}`, where the case also has the input `{input}`":
        "de groep `{name}` wordt gelezen uit `{path}`, waar de casus ook de invoer `{input}` heeft",
    "give the group a place of its own in a case": "geef de groep een eigen plaats in een casus",
    "the input": "de invoer",
    "the record `{name}` has the name that starts the input `{input}`":
        "het record `{name}` heeft de naam waarmee de invoer `{input}` begint",
    "`{name}.…` would read two ways; give the record another name":
        "`{name}.…` zou op twee manieren te lezen zijn; geef het record een andere naam",
    "the field `{name}` of `{record}` is declared twice": "het veld `{name}` van `{record}` is twee keer gedeclareerd",
    "`{name}` is decided per `{record}`, which is no group": "`{name}` wordt per `{record}` bepaald, maar dat is geen groep",
    "declare the group: `group {record} in <path in a case>`":
        "declareer de groep: `groep {record} in <plaats in een casus>`",
    "`{name}` is a field of `{record}` and also a value per `{record2}`":
        "`{name}` is een veld van `{record}` en ook een waarde per `{record2}`",
    "rename one of them: both would be `{record}.{name}`": "geef een van beide een andere naam: beide zouden "
        "`{record}.{name}` zijn",
    # ------------------------------------------------------------ scenarios and proposals
    "`{name}` is a scenario: a scenario lives in its own folder (scenarios/{folder}/), not in the rule book in force":
        "`{name}` is een scenario: een scenario staat in een eigen map (scenarios/{folder}/), niet in het geldende "
        "regelboek",
    "move this file to scenarios/<name>/ beside the rules folder; the rule book in force states the law only, and "
    "`--scenario {name}` applies the scenario when asked":
        "verplaats dit bestand naar scenarios/<naam>/ naast de map met regels; het geldende regelboek geeft alleen "
        "de wet, en `--scenario {name}` past het scenario toe als daarom gevraagd wordt",
    "a change to the rule book in force belongs in a scenario, not in the rule book in force":
        "een wijziging van het geldende regelboek hoort in een scenario, niet in het geldende regelboek",
    "put it in a scenario file (scenarios/<name>/*.pz, starting with `scenario <name>`)":
        "zet haar in een scenariobestand (scenarios/<naam>/*.pz, dat begint met `scenario <naam>`)",
    "{what} rests only on a proposal ({names}), but the rule book in force states the law":
        "{what} berust alleen op een voorstel ({names}), maar het geldende regelboek geeft de wet",
    "this value of `{name}`": "deze waarde van `{name}`",
    "a proposal is no law: move it into a scenario (scenarios/<name>/), which applies only when asked for "
    "(`--scenario <name>`); or cite the law it rests on":
        "een voorstel is geen wet: verplaats het naar een scenario (scenarios/<naam>/), dat alleen geldt als erom "
        "gevraagd wordt (`--scenario <naam>`); of noem de wet waarop het berust",
    "`{name}`: the change names no file": "`{name}`: de wijziging noemt geen bestand",
    'add `{file} "data/….csv"`: the rows, with the table\'s columns':
        'voeg `{file} "data/….csv"` toe: de rijen, met de kolommen van de tabel',
    "scenario `{name}` has no title": "scenario `{name}` heeft geen titel",
    'add `title "…"` under `scenario`: decisions and the catalogue show it':
        'voeg `titel "…"` toe onder `scenario`: beslissingen en de catalogus tonen die',
    "a file of scenario `{name}` must start with `scenario {same}`":
        "een bestand van scenario `{name}` begint met `scenario {same}`",
    "write `scenario <name>` (with its title and sources) after the language line":
        "schrijf `scenario <naam>` (met titel en bronnen) na de regel met de taal",
    "the change of table `{name}` has no source": "de wijziging van tabel `{name}` heeft geen bron",
    'add `source <id> "<detail>"`: every change of a scenario is sourced':
        'voeg `bron <id> "<detail>"` toe: elke wijziging van een scenario heeft een bron',
    "this file calls its scenario `{name}`, but it is in the folder of scenario `{folder}`":
        "dit bestand noemt zijn scenario `{name}`, maar het staat in de map van scenario `{folder}`",
    "write `scenario {name}`, or move the file to the folder {folder}/":
        "schrijf `scenario {name}`, of verplaats het bestand naar de map {folder}/",
    "scenario `{name}` has two titles": "scenario `{name}` heeft twee titels",
    "give the title once, in one of its files": "geef de titel één keer, in een van de bestanden",
    "the other title": "de andere titel",
    "parameter `{name}` is changed twice": "parameter `{name}` wordt twee keer gewijzigd",
    "give all its new values in one change": "geef al zijn nieuwe waarden in één wijziging",
    "first changed here": "hier voor het eerst gewijzigd",
    "the change of table `{name}` gives `{word}` twice": "de wijziging van tabel `{name}` geeft `{word}` twee keer",
    "rule `{name}` is switched off twice": "regel `{name}` wordt twee keer uitgeschakeld",
    "switching rule `{name}` off gives `from` twice": "het uitschakelen van regel `{name}` geeft `vanaf` twee keer",
    "switching rule `{name}` off has no source": "het uitschakelen van regel `{name}` heeft geen bron",
    "`{name}` is declared in this scenario: give its values in its declaration":
        "`{name}` wordt in dit scenario gedeclareerd: geef de waarden in de declaratie",
    "`{name}` is not a parameter of the rule book in force": "`{name}` is geen parameter van het geldende regelboek",
    "`{name}` is declared in this scenario: give its rows in its own file":
        "`{name}` wordt in dit scenario gedeclareerd: geef de rijen in een eigen bestand",
    "`{name}` is not a table of the rule book in force": "`{name}` is geen tabel van het geldende regelboek",
    "`{name}` is a rule of this scenario: leave it out instead of switching it off":
        "`{name}` is een regel van dit scenario: laat haar weg in plaats van haar uit te schakelen",
    "`{name}` is not a rule of the rule book in force": "`{name}` is geen regel van het geldende regelboek",
    # the types as the checker names them
    "a boolean": "een janee-waarde",
    "an integer": "een geheel getal",
    "a decimal": "een decimaal getal",
    "an amount of money": "een bedrag",
    "a date": "een datum",
    "a text": "een tekst",
    "a duration": "een duur",
    "a table": "een tabel",
    "a tuple": "een reeks waarden tussen haakjes",
    "a choice ({choices})": "een keuze ({choices})",
    "the choice `{name}`": "de keuze `{name}`",
    "a list of {item}": "een lijst van {item}",
    # a type as declared, inside "a list of …"
    "boolean": "janee",
    "integer": "geheel getal",
    "decimal": "decimaal",
    "money": "bedrag",
    "date": "datum",
    "text": "tekst",
    "one of {choices}": "een van {choices}",
    "list of {item}": "lijst van {item}",
}

LABELS = {"nederlands": {"hint": "tip", "note": "zie ook"}}
"""The words before a hint and a note, per language (English: as the keys)."""


def label(word: str, language: str) -> str:
    return LABELS.get(language, {}).get(word, word)


@dataclass(frozen=True)
class _Template:
    pattern: re.Pattern[str]
    dutch: str
    translated: frozenset[str]  # parts to look up in turn
    weight: int  # literal characters: the most specific template wins


def _compile(english: str, dutch: str) -> _Template:
    parts = re.split(r"(\{\w+\})", english)
    regex = []
    seen: set[str] = set()
    translated = set()
    code = False
    for part in parts:
        m = re.fullmatch(r"\{(\w+)\}", part)
        if m is None:
            regex.append(re.escape(part))
            code ^= part.count("`") % 2 == 1
            continue
        name = m.group(1)
        if name in seen:
            regex.append(f"(?P={name})")
            continue
        seen.add(name)
        regex.append(f"(?P<{name}>[^`]+?)" if code else f"(?P<{name}>.+?)")
        if name in TRANSLATED and not code:
            translated.add(name)
    if set(re.findall(r"\{(\w+)\}", dutch)) != seen:
        raise ValueError(f"the Dutch form of {english!r} has other parts: {dutch!r}")
    weight = len(re.sub(r"\{\w+\}", "", english))
    return _Template(re.compile("".join(regex), re.S), dutch, frozenset(translated), weight)


_TEMPLATES = sorted((_compile(k, v) for k, v in DUTCH.items() if "{" in k), key=lambda t: -t.weight)


def dutch_form(text: str) -> str | None:
    """The Dutch form of an English message, hint or note; None if the catalogue lacks (a piece of) it."""
    exact = DUTCH.get(text)
    if exact is not None:
        return exact
    for t in _TEMPLATES:
        m = t.pattern.fullmatch(text)
        if m is None:
            continue
        values = {}
        for name, value in m.groupdict().items():
            if name in t.translated:
                shown = _part(value)
                if shown is None:
                    break
                values[name] = shown
            else:
                values[name] = value
        else:
            return t.dutch.format(**values)
    pieces = text.split("; ")
    if len(pieces) > 1:
        shown_pieces = [dutch_form(p) for p in pieces]
        if all(p is not None for p in shown_pieces):
            return "; ".join(p for p in shown_pieces if p is not None)
    return None


def _part(value: str) -> str | None:
    """A part that is English itself: a phrase, or a list of them (`…` and code stay as they are)."""
    whole = dutch_form(value)
    if whole is not None:
        return whole
    items = _split_list(value)
    if len(items) == 1:
        return value if _is_code(value) else None
    shown = [dutch_form(i) or (i if _is_code(i) else None) for i in items]
    if any(s is None for s in shown):
        return None
    return ", ".join(s for s in shown if s is not None)


def _is_code(text: str) -> bool:
    """Code, a name or a number as written, or the mark of a shortened list: kept as it is."""
    return text == "…" or re.fullmatch(r"`[^`]*`|[\w.\-/€ ,:]*\d[\w.\-/€ ,:]*|\W*", text) is not None


def _split_list(text: str) -> list[str]:
    """``a, b (c, d), e`` -> ``a``, ``b (c, d)``, ``e``: commas inside brackets or backquotes do not split."""
    items, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == "`":
            quoted = not quoted
        elif not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
        elif not quoted and depth == 0 and text.startswith(", ", i):
            items.append(text[start:i])
            start = i + 2
    items.append(text[start:])
    return items


def translate(text: str, language: str) -> str:
    """``text`` in ``language``; as it is where the catalogue has no form for it."""
    if language != "nederlands":
        return text
    return dutch_form(text) or text
