"""Vocabulary and templates for the built-in sample catalog (pure data, no logic).

The generator in ``catalog_classifier.sample.generator`` expands these templates:

- ``"{name}"`` is replaced by ``str(choice(slot))`` where ``slot`` is a sequence (tuple or
  ``range``); a chosen string may itself contain ``{slots}`` and is expanded again.
- A slot name is looked up, in order, in the category's language block
  (``CATEGORIES[code][lang]``), the category's language-neutral block
  (``CATEGORIES[code]["shared"]``), ``COMMON[lang]`` and ``NEUTRAL``.
- Every language block has ``"titles"`` (designation templates) and ``"sentences"``
  (description sentence templates); every other key is a slot.

Pools that several categories reference (``_BOOK_*``, ``_TOY_*``, ``_GAME_*``,
``_FURNITURE_*`` ...) are shared on purpose: related classes (books 10/2705/2403, toys
1280/1281/1302, consoles 40/60/2462, furniture 1560/2582) must overlap as they do in the
real catalog, or a text classifier would score an unrealistic 100%.
"""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = ("fr", "de", "en")
# Share of listings per language: the real catalog is mostly French with German and
# English imports.
LANGUAGE_WEIGHTS: tuple[float, ...] = (0.8, 0.1, 0.1)

# Language-neutral numeric and date slots.
NEUTRAL: dict[str, tuple[str, ...] | range] = {
    "n": range(1, 13),
    "n2": range(2, 100),
    "n3": range(100, 1000),
    "n4": range(1000, 10000),
    "n5": range(10000, 100000),
    "year": range(1950, 2020),
    "recent_year": range(2005, 2020),
    "old_year": range(1860, 1990),
    "day2": tuple(f"{day:02d}" for day in range(1, 29)),
    "month2": tuple(f"{month:02d}" for month in range(1, 13)),
    "date": ("{day2}/{month2}/{old_year}",),
    "ref": ("{n5}{n3}", "{n4}-{n3}", "REF{n5}", "{n3}{n4}{n3}"),
    "ean": ("{n4}{n4}{n5}", "3{n3}{n4}{n5}"),
    "cm": range(10, 240),
    "pct": range(5, 96),
}

COMMON: dict[str, dict[str, tuple[str, ...]]] = {
    "fr": {
        "colour": (
            "noir", "blanc", "rouge", "bleu", "vert", "jaune", "rose", "gris", "beige",
            "marron", "violet", "orange", "doré", "argenté", "turquoise", "écru",
            "anthracite", "bordeaux", "bleu marine", "vert d'eau", "crème", "taupe",
        ),
        "condition": (
            "Neuf", "Très bon état", "Bon état", "Occasion", "État correct", "Comme neuf",
            "Neuf sous blister", "Déstockage",
        ),
        "material": (
            "bois", "métal", "plastique", "coton", "lin", "velours", "rotin", "résine",
            "acier", "aluminium", "verre", "céramique", "chêne massif", "pin", "polyester",
        ),
        "generic": (
            "Livraison rapide et soignée.",
            "Expédition sous 48 heures ouvrées.",
            "Produit neuf, jamais utilisé, dans son emballage d'origine.",
            "Photos non contractuelles.",
            "N'hésitez pas à me contacter pour toute question.",
            "Envoi soigné en colis suivi.",
            "Garantie {n} ans.",
            "Dimensions : {n2} x {n2} x {n2} cm.",
            "Couleur : {colour}.",
            "État : {condition}.",
            "Satisfait ou remboursé sous 30 jours.",
            "Frais de port réduits pour les achats groupés, n'hésitez pas.",
            "Article d'occasion en très bon état général.",
            "Idéal pour offrir, à Noël ou pour un anniversaire.",
            "Référence : {ref}.",
            "Prix à l'unité, quantité limitée.",
            "Vendeur professionnel, facture fournie à la demande.",
            'Mention "{condition}" selon nos critères, voir photos.',
        ),
    },
    "de": {
        "colour": (
            "schwarz", "weiß", "rot", "blau", "grün", "gelb", "rosa", "grau", "beige",
            "braun", "lila", "orange", "gold", "silber", "türkis", "anthrazit", "creme",
        ),
        "condition": ("Neu", "Sehr gut", "Gut", "Gebraucht", "Wie neu", "Neu & OVP"),
        "material": (
            "Holz", "Metall", "Kunststoff", "Baumwolle", "Leinen", "Samt", "Rattan",
            "Edelstahl", "Aluminium", "Glas", "Keramik", "Massivholz", "Polyester",
        ),
        "generic": (
            "Schneller Versand innerhalb von 48 Stunden.",
            "Neu und originalverpackt.",
            "Farbe: {colour}.",
            "Lieferumfang: siehe Bilder.",
            "Bei Fragen stehe ich gerne zur Verfügung.",
            "Zustand: {condition}.",
            "Maße: {n2} x {n2} x {n2} cm.",
            "Privatverkauf, keine Garantie und Rücknahme.",
            "Artikelnummer: {ref}.",
            "Ideal als Geschenk für Weihnachten oder Geburtstag.",
            'Zustand laut Verkäufer: "{condition}".',
        ),
    },
    "en": {
        "colour": (
            "black", "white", "red", "blue", "green", "yellow", "pink", "grey", "beige",
            "brown", "purple", "orange", "gold", "silver", "turquoise", "navy", "cream",
        ),
        "condition": ("New", "Very good", "Good", "Used", "Like new", "Brand new sealed"),
        "material": (
            "wood", "metal", "plastic", "cotton", "linen", "velvet", "rattan", "steel",
            "aluminium", "glass", "ceramic", "solid oak", "pine", "polyester",
        ),
        "generic": (
            "Fast shipping within 48 hours.",
            "Brand new and sealed in original packaging.",
            "Colour: {colour}.",
            "Please feel free to contact us with any questions.",
            "Condition: {condition}.",
            "Size: {n2} x {n2} x {n2} cm.",
            "100% satisfaction guaranteed.",
            "Pictures are for illustration only.",
            "Item number: {ref}.",
            "Perfect gift for Christmas or birthdays.",
            'Listed as "{condition}", see pictures.',
        ),
    },
}

# ---------------------------------------------------------------------------------------
# Shared pools (referenced by several categories on purpose).
# ---------------------------------------------------------------------------------------

_FIRST_NAMES = (
    "Luc", "Marie", "Jeanne", "Hugo", "Léa", "Thomas", "Chloé", "Antoine", "Zoé", "Émile",
    "Louise", "Gabriel", "Inès", "Raphaël", "Margaux", "Olivia", "Emma", "Lukas", "Hannah",
    "Oliver", "Sophie", "Ben", "Lena", "Jack",
)
_AUTHORS = (
    "Victor Hugo", "Émile Zola", "Jules Verne", "Agatha Christie", "Stephen King",
    "Guillaume Musso", "Marc Levy", "Fred Vargas", "Amélie Nothomb", "Joël Dicker",
    "Michel Bussi", "Alexandre Dumas", "Honoré de Balzac", "Marcel Pagnol", "Albert Camus",
    "George Sand", "Jean Giono", "Patrick Modiano", "Françoise Sagan", "Bernard Werber",
    "Maxime Chattam", "Ken Follett", "J.K. Rowling", "Dan Brown", "Colette", "Marguerite Duras",
)
_PUBLISHERS = (
    "Gallimard", "Flammarion", "Le Livre de Poche", "Folio", "Pocket", "J'ai Lu",
    "Albin Michel", "Hachette", "Robert Laffont", "Actes Sud", "Seuil", "Grasset", "Fayard",
    "Nathan", "Larousse", "Éditions de Minuit", "Bayard Jeunesse", "L'École des loisirs",
)
_COMIC_PUBLISHERS = ("Dargaud", "Dupuis", "Glénat", "Casterman", "Delcourt", "Kana", "Soleil",
                     "Pika", "Panini Comics", "Les Humanoïdes Associés")
_COMIC_SERIES = (
    "Astérix", "Tintin", "Lucky Luke", "Spirou et Fantasio", "Gaston Lagaffe",
    "Blake et Mortimer", "Thorgal", "XIII", "Les Schtroumpfs", "One Piece", "Naruto",
    "Dragon Ball", "Death Note", "L'Attaque des Titans", "Boule et Bill", "Largo Winch",
    "Les Tuniques Bleues", "Black Clover", "My Hero Academia", "Les Légendaires",
)
_BOOK_FR = {
    "book_title": (
        "{book_start} {book_end}", "{book_start} {book_end}", "{book_start}",
        "Les Aventures de {first_name}", "{first_name} et {book_thing}",
        "La Guerre Des Tuques", "Le Petit Prince", "Les Misérables", "Germinal",
        "Vingt Mille Lieues sous les Mers", "L'Étranger", "La Gloire de mon Père",
    ),
    "book_start": (
        "La Nuit", "Le Secret", "L'Ombre", "Les Enfants", "La Maison", "Le Dernier Été",
        "La Vérité", "Le Chant", "Les Mémoires", "L'Île", "Le Voyage", "La Guerre",
        "Le Silence", "La Promesse", "Les Années", "Le Jardin", "La Mémoire", "L'Héritage",
        "Le Crépuscule", "La Fille", "Le Mystère", "La Légende", "Le Rêve", "Les Chemins",
    ),
    "book_end": (
        "des Tuques", "du Silence", "de la Mer", "des Loups", "d'Automne", "sans Fin",
        "du Dragon", "de Minuit", "des Étoiles", "du Nord", "perdue", "oubliée", "de Venise",
        "des Anges", "d'Hiver", "des Ombres", "du Phare", "de Saint-Malo", "de l'Aube",
        "des Glaces", "éternel", "du Château",
    ),
    "book_thing": ("le dragon", "la forêt enchantée", "le trésor perdu", "les pirates",
                   "la sorcière", "le grand voyage", "l'école des sorciers"),
    "book_format": ("Poche", "Broché", "Relié", "Grand format", "Format Kindle", "Cartonné"),
    "book_genre": ("roman policier", "roman historique", "thriller", "roman jeunesse",
                   "science-fiction", "essai", "biographie", "recueil de poèmes",
                   "livre de cuisine", "guide pratique"),
}
_BOOK_DE = {
    "book_title": (
        "{book_start} {book_end}", "{book_start} {book_end}", "Die Abenteuer von {first_name}",
        "{first_name} und {book_thing}",
    ),
    "book_start": ("Das Geheimnis", "Die Nacht", "Der Schatten", "Die Kinder", "Das Haus",
                   "Der letzte Sommer", "Die Wahrheit", "Das Lied", "Die Insel", "Die Reise",
                   "Das Erbe", "Die Tochter"),
    "book_end": ("der Wölfe", "am See", "von Berlin", "im Nebel", "des Nordens", "der Sterne",
                 "im Winter", "der Engel", "am Meer", "ohne Ende"),
    "book_thing": ("der Drache", "der verlorene Schatz", "die Piraten", "die Hexe"),
    "book_format": ("Taschenbuch", "Gebundene Ausgabe", "Broschiert", "Kindle Ausgabe"),
    "book_genre": ("Kriminalroman", "historischer Roman", "Thriller", "Kinderbuch",
                   "Sachbuch", "Biografie", "Kochbuch", "Ratgeber"),
}
_BOOK_EN = {
    "book_title": (
        "{book_start} {book_end}", "{book_start} {book_end}", "The Adventures of {first_name}",
        "{first_name} and {book_thing}",
    ),
    "book_start": ("The Secret", "The Night", "The Shadow", "The Children", "The House",
                   "The Last Summer", "The Truth", "The Song", "The Island", "The Journey",
                   "The Legacy", "The Girl"),
    "book_end": ("of the Wolves", "by the Lake", "of London", "in the Fog", "of the North",
                 "of the Stars", "in Winter", "of Angels", "by the Sea", "Without End"),
    "book_thing": ("the Dragon", "the Lost Treasure", "the Pirates", "the Witch"),
    "book_format": ("Paperback", "Hardcover", "Mass Market Paperback", "Kindle Edition"),
    "book_genre": ("crime novel", "historical novel", "thriller", "children's book",
                   "non-fiction", "biography", "cookbook", "self-help guide"),
}
_BOOK_SHARED = {
    "author": _AUTHORS,
    "publisher": _PUBLISHERS,
    "first_name": _FIRST_NAMES,
    "isbn": ("978-2-{n4}-{n4}-{n}", "978{n5}{n4}{n}", "2-{n3}-{n5}-X"),
    "pages": range(48, 960),
}

_RETRO_PLATFORMS = (
    "Super Nintendo", "Nintendo 64", "Game Boy", "Game Boy Advance", "Mega Drive",
    "Master System", "Dreamcast", "PlayStation 1", "PS2", "GameCube", "NES", "Saturn",
    "Atari 2600", "Nintendo DS", "PSP",
)
_MODERN_PLATFORMS = (
    "PS4", "PS5", "Xbox One", "Xbox Series X", "Nintendo Switch", "Wii U", "Wii", "PS3",
    "Xbox 360", "3DS", "PS Vita",
)
_GAME_TITLES = (
    "Mario Kart 8", "The Legend of Zelda", "Super Mario World", "FIFA 19",
    "Call of Duty Black Ops", "Grand Theft Auto V", "Pokémon Rouge", "Sonic the Hedgehog",
    "Final Fantasy VII", "Assassin's Creed Odyssey", "Resident Evil 4", "Crash Bandicoot",
    "Donkey Kong Country", "Metal Gear Solid", "Tekken 3", "Gran Turismo 2",
    "Street Fighter II", "Red Dead Redemption 2", "Minecraft", "Just Dance 2019",
    "Spyro the Dragon", "Rayman", "Super Smash Bros", "Kirby", "Tomb Raider", "Halo 3",
    "God of War", "Pro Evolution Soccer 2019", "Mario Party", "Animal Crossing",
)
_CONSOLES = (
    "PlayStation 4 Slim", "PS4 Pro", "Xbox One S", "Nintendo Switch", "Nintendo 3DS XL",
    "Wii U", "PS Vita", "Xbox 360", "PlayStation 3", "Nintendo 2DS", "Super Nintendo Mini",
    "Game Boy Color", "PSP 3000", "Mega Drive II", "Nintendo 64", "GameCube",
    "PlayStation 2 Slim", "Nintendo DS Lite",
)
_GAMING_BRANDS = (
    "Speedlink", "Hori", "PowerA", "Turtle Beach", "Subsonic", "Nacon", "Thrustmaster",
    "Bigben", "Logitech", "Razer", "Steelseries", "Under Control", "Nintendo", "Sony",
)
_GAMING_SHARED = {
    "retro_platform": _RETRO_PLATFORMS,
    "platform": _MODERN_PLATFORMS + _RETRO_PLATFORMS[:6],
    "game": _GAME_TITLES,
    "console": _CONSOLES,
    "gaming_brand": _GAMING_BRANDS,
    "storage": ("32", "500", "1000", "8", "16", "64", "250"),
}

_TOY_BRANDS = (
    "Lego", "Playmobil", "Vtech", "Fisher-Price", "Mattel", "Hasbro", "Smoby", "Janod",
    "Djeco", "Hape", "Clementoni", "Little Tikes", "Bandai", "Spin Master", "Melissa & Doug",
    "Bruder", "Schleich", "Corolle", "Famosa", "Chicco",
)
_BOARD_GAMES = (
    "Monopoly", "Cluedo", "Dixit", "Catan", "Les Aventuriers du Rail", "Uno", "Dobble",
    "Time's Up", "7 Wonders", "Carcassonne", "Pandemic", "Scrabble", "Trivial Pursuit",
    "Puissance 4", "Jungle Speed", "Mille Bornes", "Risk", "Qwirkle", "Splendor", "Azul",
    "Skyjo", "Bonne Paye", "La Bonne Paye", "Docteur Maboul",
)
_GAME_PUBLISHERS = (
    "Asmodee", "Ravensburger", "Hasbro", "Gigamic", "Days of Wonder", "Goliath", "Dujardin",
    "Repos Production", "Iello", "Blue Orange", "Haba", "Mattel", "Schmidt", "Kosmos",
)
_TOY_FR = {
    "animal": ("lapin", "ours", "chat", "chien", "licorne", "girafe", "éléphant", "panda",
               "dinosaure", "cheval", "hibou", "renard", "tigre", "singe"),
    "age": ("3 ans", "4 ans", "5 ans", "6 ans", "8 ans", "10 ans", "18 mois", "12 ans"),
    "kid": ("enfant", "fille", "garçon", "bébé", "tout-petit"),
    "players": ("2 à 4", "2 à 6", "1 à 4", "3 à 8", "2 à 5", "4 à 10"),
}
_TOY_DE = {
    "animal": ("Hase", "Bär", "Katze", "Hund", "Einhorn", "Giraffe", "Elefant", "Panda",
               "Dinosaurier", "Pferd", "Eule", "Fuchs"),
    "age": ("3 Jahre", "4 Jahre", "6 Jahre", "8 Jahre", "18 Monate", "10 Jahre"),
    "kid": ("Kinder", "Mädchen", "Jungen", "Baby", "Kleinkinder"),
    "players": ("2 bis 4", "2 bis 6", "1 bis 4", "3 bis 8"),
}
_TOY_EN = {
    "animal": ("bunny", "bear", "cat", "dog", "unicorn", "giraffe", "elephant", "panda",
               "dinosaur", "horse", "owl", "fox"),
    "age": ("3 years", "4 years", "6 years", "8 years", "18 months", "10 years"),
    "kid": ("kids", "girls", "boys", "baby", "toddlers"),
    "players": ("2 to 4", "2 to 6", "1 to 4", "3 to 8"),
}
_TOY_SHARED = {
    "toy_brand": _TOY_BRANDS,
    "board_game": _BOARD_GAMES,
    "game_publisher": _GAME_PUBLISHERS,
    "pieces": ("100", "250", "500", "1000", "1500", "2000", "3000", "24", "48"),
}

_FRANCHISES = (
    "Dragon Ball Z", "One Piece", "Naruto", "Marvel", "Star Wars", "Harry Potter",
    "Pokémon", "Disney", "Batman", "Avengers", "Le Seigneur des Anneaux", "Zelda",
    "Saint Seiya", "Goldorak", "Spider-Man", "Game of Thrones", "Final Fantasy",
)
_CHARACTERS = (
    "Goku", "Vegeta", "Luffy", "Zoro", "Naruto Uzumaki", "Iron Man", "Dark Vador",
    "Yoda", "Harry Potter", "Hermione", "Pikachu", "Mickey", "Batman", "Joker", "Thor",
    "Gandalf", "Link", "Spider-Man", "Wolverine", "Deadpool", "Hulk", "Captain America",
    "Stormtrooper", "Sasuke", "Boba Fett", "Groot",
)
_FIGURINE_BRANDS = ("Funko Pop", "Bandai", "Banpresto", "Hot Toys", "Tamashii Nations",
                    "Good Smile", "Hasbro", "McFarlane", "Kotobukiya", "Tsume", "Sideshow")

_FURNITURE_FR = {
    "wood": ("bois massif", "chêne", "pin", "teck", "acacia", "noyer", "bambou",
             "hêtre", "manguier"),
    "style": ("scandinave", "industriel", "vintage", "moderne", "design", "contemporain",
              "rustique", "baroque", "campagne chic", "bohème"),
    "seats": ("2", "3", "4", "5", "6", "8"),
}
_FURNITURE_DE = {
    "wood": ("Massivholz", "Eiche", "Kiefer", "Teak", "Akazie", "Bambus", "Buche"),
    "style": ("skandinavisch", "Industrie-Stil", "Vintage", "modern", "Landhausstil"),
    "seats": ("2", "3", "4", "6", "8"),
}
_FURNITURE_EN = {
    "wood": ("solid wood", "oak", "pine", "teak", "acacia", "walnut", "bamboo", "beech"),
    "style": ("Scandinavian", "industrial", "vintage", "modern", "rustic", "contemporary"),
    "seats": ("2", "3", "4", "6", "8"),
}
_FURNITURE_SHARED = {
    "furniture_brand": ("Vidaxl", "Ikea", "Maisons du Monde", "Alinéa", "Conforama",
                        "Homcom", "Outsunny", "Hesperide", "Keter", "Habitat", "Fermob"),
    "dim": ("{n2}x{n2}", "{cm} x {n2} cm", "{cm}x{cm}x{n2} cm", "L{cm} x P{n2} x H{n2} cm"),
}

# ---------------------------------------------------------------------------------------
# Categories.
# ---------------------------------------------------------------------------------------

CATEGORIES: dict[int, dict[str, dict[str, tuple[str, ...] | range]]] = {
    # Used books.
    10: {
        "shared": _BOOK_SHARED,
        "fr": {
            **_BOOK_FR,
            "titles": (
                "{book_title} - {author} - {publisher} - {year}",
                "{book_title} de {author} | {publisher} | {book_format}",
                "Livre ancien {book_title} {old_year} édition originale",
                "{book_title}",
                "{book_title} - {author}",
                "{author} - {book_title} - {condition}",
                "Lot de {n} livres {author}",
                "{book_title} ({book_format}) - {publisher} {year}",
                "Les Œuvres complètes de {author} tome {n}",
                "Ancien livre scolaire {subject} {old_year}",
            ),
            "subject": ("de lecture", "d'histoire", "de géographie", "de calcul",
                        "de grammaire", "de sciences naturelles"),
            "sentences": (
                "Livre d'occasion en {condition_book} état, quelques marques d'usage.",
                "Couverture légèrement jaunie, intérieur propre, {pages} pages.",
                "Édition {publisher} de {year}, {book_format}.",
                "Un {book_genre} de {author} qui a marqué des générations de lecteurs.",
                "Ex-libris sur la page de garde, reliure solide.",
                "Dos insolé, coins un peu frottés, aucune page manquante.",
                "Ouvrage ancien, tampon de bibliothèque, papier légèrement piqué.",
                "ISBN : {isbn}.",
            ),
            "condition_book": ("bon", "très bon", "assez bon", "excellent", "moyen"),
        },
        "de": {
            **_BOOK_DE,
            "titles": (
                "{book_title} - {author} - {book_format}",
                "{book_title} von {author} ({year})",
                "Altes Buch {book_title} {old_year} Erstausgabe",
                "{author}: {book_title} - gebraucht",
            ),
            "sentences": (
                "Gebrauchtes Buch in gutem Zustand, leichte Gebrauchsspuren.",
                "Einband leicht vergilbt, Seiten sauber, {pages} Seiten.",
                "Ein {book_genre} von {author}.",
                "ISBN: {isbn}.",
            ),
        },
        "en": {
            **_BOOK_EN,
            "titles": (
                "{book_title} - {author} - {book_format}",
                "{book_title} by {author} ({year})",
                "Vintage book {book_title} {old_year} first edition",
                "{author}: {book_title} - used",
            ),
            "sentences": (
                "Used book in good condition, light signs of wear.",
                "Slightly yellowed cover, clean pages, {pages} pages.",
                "A {book_genre} by {author}.",
                "ISBN: {isbn}.",
            ),
        },
    },
    # New books.
    2705: {
        "shared": _BOOK_SHARED,
        "fr": {
            **_BOOK_FR,
            "titles": (
                "{book_title}",
                "{book_title}",
                "{book_title} - Tome {n}",
                "{book_title} : {subtitle}",
                "{book_title} - {book_format}",
                "{book_title} - Édition {year}",
                "Le Guide {guide_topic} {recent_year}",
                "Coffret {book_title} - Tomes 1 à {n}",
                "Cahier d'activités {guide_topic}",
            ),
            "subtitle": ("roman", "une enquête du commissaire {first_name}", "récit",
                         "mémoires d'une vie", "la suite tant attendue",
                         "histoire d'une famille", "le grand roman de l'été"),
            "guide_topic": ("du jardinage", "de la cuisine végétarienne", "du Routard",
                            "de la méditation", "de la photographie", "Michelin",
                            "de l'aquarelle", "du bien-être"),
            "sentences": (
                "{first_name} a des idées de grandeur.",
                "Il veut organiser un jeu de guerre de boules de neige et s'arranger pour en "
                "être le grand vainqueur.",
                "{first_name} n'a jamais oublié ce qui s'est passé cet été-là, à {city}.",
                "Le nouveau {book_genre} de {author}, déjà un phénomène en librairie.",
                "Une histoire bouleversante sur l'amitié, le courage et la famille.",
                "Entre secrets de famille et suspense, un roman impossible à lâcher.",
                "{pages} pages, parution le {day2}/{month2}/{recent_year}.",
                "« Un chef-d'œuvre », selon la presse.",
                '"Un roman coup de poing", a écrit {newspaper_critic}.',
                "Dès {age_book}.",
            ),
            "newspaper_critic": ("Le Monde", "Télérama", "Le Figaro littéraire", "Elle",
                                 "Lire"),
            "city": ("Paris", "Lyon", "Marseille", "Québec", "Brest", "Nice", "Annecy",
                     "Bordeaux", "Montréal"),
            "age_book": ("8 ans", "10 ans", "12 ans", "3 ans", "6 ans"),
        },
        "de": {
            **_BOOK_DE,
            "titles": (
                "{book_title}",
                "{book_title}: Roman",
                "{book_title} - Band {n}",
                "{book_title} ({book_format})",
            ),
            "sentences": (
                "{first_name} hat große Pläne.",
                "Der neue {book_genre} von {author}.",
                "Eine bewegende Geschichte über Freundschaft, Mut und Familie.",
                "{pages} Seiten, erschienen {recent_year}.",
            ),
        },
        "en": {
            **_BOOK_EN,
            "titles": (
                "{book_title}",
                "{book_title}: A Novel",
                "{book_title} - Book {n}",
                "{book_title} ({book_format})",
            ),
            "sentences": (
                "{first_name} has big ideas.",
                "The new {book_genre} by {author}.",
                "A moving story about friendship, courage and family.",
                "{pages} pages, published in {recent_year}.",
            ),
        },
    },
    # Books, comics and magazines.
    2403: {
        "shared": {
            **_BOOK_SHARED,
            "series": _COMIC_SERIES,
            "comic_publisher": _COMIC_PUBLISHERS,
            "magazine": ("Picsou Magazine", "Spirou", "Science & Vie", "Géo",
                         "National Geographic", "Télérama", "Mickey Parade", "Pif Gadget",
                         "Auto Plus", "Onze Mondial", "Tintin Magazine", "Okapi"),
        },
        "fr": {
            **_BOOK_FR,
            "titles": (
                "{series} Tome {n2} : {book_title}",
                "Lot de {n} BD {series}",
                "{series} - Tome {n} - {comic_publisher}",
                "Magazine {magazine} N° {n3} - {month_fr} {year}",
                "Lot de {n2} magazines {magazine}",
                "Manga {series} vol. {n2} VF",
                "BD {series} édition originale {year}",
                "{book_title} - {author} - {publisher}",
                "{magazine} n°{n3} {month_fr} {year} - Hors-série",
            ),
            "month_fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet",
                         "août", "septembre", "octobre", "novembre", "décembre"),
            "sentences": (
                "Album cartonné en {condition_book} état, dos carré.",
                "Bande dessinée {series}, scénario et dessins de la série culte.",
                "Lot de {n} albums, couvertures un peu frottées.",
                "Numéro complet avec son poster et ses autocollants.",
                "Manga en version française, sens de lecture japonais.",
                "Édition {comic_publisher} de {year}, {pages} pages.",
                "Parfait pour compléter votre collection {series}.",
            ),
            "condition_book": ("bon", "très bon", "excellent", "correct"),
        },
        "de": {
            **_BOOK_DE,
            "titles": (
                "{series} Band {n2} - Comic",
                "Konvolut {n} Comics {series}",
                "Manga {series} Band {n2} deutsch",
                "Zeitschrift {magazine} Nr. {n3} / {year}",
            ),
            "sentences": (
                "Comic in gutem Zustand.",
                "Konvolut mit {n} Heften, leichte Gebrauchsspuren.",
                "Manga auf Deutsch, {pages} Seiten.",
            ),
        },
        "en": {
            **_BOOK_EN,
            "titles": (
                "{series} Volume {n2} - Comic",
                "Lot of {n} {series} comics",
                "{series} Manga Vol. {n2} English",
                "{magazine} Magazine Issue {n3} ({year})",
            ),
            "sentences": (
                "Comic book in good condition.",
                "Lot of {n} issues, minor shelf wear.",
                "English edition manga, {pages} pages.",
            ),
        },
    },
    # Used newspapers and magazines.
    2280: {
        "shared": {
            "newspaper": ("Le Monde", "Le Figaro", "L'Équipe", "Libération", "France-Soir",
                          "L'Humanité", "Ouest-France", "Le Parisien", "La Croix",
                          "Les Échos", "Le Petit Journal", "L'Illustration", "Paris Match",
                          "Détective", "Ici Paris", "Jours de France", "Le Miroir des Sports",
                          "Point de Vue", "Salut les Copains", "Lui"),
            "person": ("Charles de Gaulle", "Brigitte Bardot", "Johnny Hallyday",
                       "Édith Piaf", "Mitterrand", "Zidane", "Platini", "Grace Kelly",
                       "Claude François", "Sylvie Vartan", "Alain Delon", "Romy Schneider",
                       "Bernard Hinault", "Jacques Chirac", "Lady Di"),
        },
        "fr": {
            "titles": (
                "{newspaper} N° {n5} Du {date} - {headline}",
                "{newspaper} N° {n4} du {date}",
                "{newspaper} du {date} : {headline}",
                "Journal {newspaper} {date} - {headline}",
                "{newspaper} n°{n4} - {person} - {old_year}",
                "Revue {newspaper} {old_year} numéro spécial {headline}",
                "Journal de naissance du {date}",
                "Lot de {n2} anciens numéros {newspaper} années {decade}",
            ),
            "headline": (
                "{person} en couverture", "Mort de {person}", "La France championne du monde",
                "Les élections législatives", "Le Tour de France", "Mai 68",
                "La crise du pétrole", "Spécial mode", "Le mariage de {person}",
                "L'homme a marché sur la Lune", "La chute du mur de Berlin",
                "Les grèves", "Le franc dévalué", "Exclusif : {person} se confie",
            ),
            "decade": ("50", "60", "70", "80", "90"),
            "sentences": (
                "Journal ancien d'époque, complet, {n2} pages.",
                "Bon état général compte tenu de l'âge, pliures d'usage.",
                "Idéal pour un anniversaire : offrez le journal du jour de naissance.",
                "Numéro original, non réimprimé, papier jauni.",
                "Au sommaire : {headline}, {headline}.",
                "Quelques déchirures sur les bords, sans manque.",
            ),
        },
        "de": {
            "titles": (
                "Zeitung {newspaper} Nr. {n4} vom {date}",
                "Alte Zeitschrift {newspaper} {old_year} - {person}",
                "Konvolut {n2} alte Zeitungen {newspaper}",
            ),
            "sentences": (
                "Original-Zeitung, vollständig, {n2} Seiten.",
                "Altersbedingt vergilbt, guter Zustand.",
                "Ideal als Geschenk zum Geburtstag.",
            ),
        },
        "en": {
            "titles": (
                "Vintage newspaper {newspaper} No. {n4} {date}",
                "Old magazine {newspaper} {old_year} - {person} cover",
                "Lot of {n2} vintage {newspaper} issues",
            ),
            "sentences": (
                "Original vintage newspaper, complete, {n2} pages.",
                "Yellowed with age, good overall condition.",
                "Great birthday gift: the paper from the day you were born.",
            ),
        },
    },
    # Retro video games and equipment.
    40: {
        "shared": _GAMING_SHARED,
        "fr": {
            "titles": (
                "{game} - {retro_platform} - PAL FR",
                "Jeu {retro_platform} {game} en boîte",
                "Cartouche {game} {retro_platform}",
                "{game} ({retro_platform}) complet avec notice",
                "Jeu vidéo {game} {platform} import",
                "{game} - Édition Collector - {platform}",
                "{game} [{platform}] - Neuf sous blister",
            ),
            "sentences": (
                "Jeu complet en boîte avec sa notice, version PAL française.",
                'Le jeu "{game}" est livré dans son boîtier d\'origine.',
                "Cartouche testée et fonctionnelle, étiquette en bon état.",
                "Un classique de la {retro_platform} pour les collectionneurs.",
                "Jeu d'import, textes en anglais, compatible avec toutes les consoles PAL.",
                "Revivez les aventures de {game} sur {retro_platform}.",
                "Boîte légèrement abîmée, CD sans rayure.",
            ),
        },
        "de": {
            "titles": (
                "{game} - {retro_platform} - PAL",
                "{retro_platform} Spiel {game} mit OVP",
                "{game} ({platform}) - USK 12",
            ),
            "sentences": (
                "Spiel komplett mit Anleitung, getestet.",
                "Ein Klassiker für Sammler.",
                "Modul funktioniert einwandfrei.",
            ),
        },
        "en": {
            "titles": (
                "{game} - {retro_platform} - PAL UK",
                "{game} for {platform} (Import)",
                "{retro_platform} game {game} boxed with manual",
            ),
            "sentences": (
                "Complete in box with manual, tested and working.",
                "A true classic for collectors.",
                "Region free import, English text.",
            ),
        },
    },
    # Gaming accessories and merchandise.
    50: {
        "shared": _GAMING_SHARED,
        "fr": {
            "titles": (
                "Manette sans fil pour {platform} {colour} - {gaming_brand}",
                "Grand Stylet Ergonomique {colour} Gamepad {platform} - {gaming_brand}",
                "Câble HDMI {n} m pour {platform}",
                "Housse de protection pour {platform} - {gaming_brand}",
                "Chargeur double manettes {platform}",
                "Casque gaming {gaming_brand} {model} micro rétractable",
                "Volant {gaming_brand} {model} compatible {platform}",
                "Sacoche de transport {platform} {colour}",
                "Mug {game} officiel",
                "Support vertical avec ventilateur pour {platform}",
            ),
            "model": ("Pilot Style", "Pro", "Elite", "X-Pad", "Stealth 600", "T80",
                      "Revolution", "Blackshark", "G29", "Arctis 5"),
            "sentences": (
                "Accessoire officiel sous licence, compatible {platform}.",
                "Pour un confort optimal et une précision maximale sur le GamePad de la "
                "{platform}.",
                "Câble de {n} mètres, connectique plaquée or.",
                "Batterie rechargeable, jusqu'à {n2} heures d'autonomie.",
                "Le stylet {model} de marque {gaming_brand} est un stylet ergonomique.",
                "Prise en main agréable, boutons rétroéclairés, vibrations.",
            ),
        },
        "de": {
            "titles": (
                "Wireless Controller für {platform} {colour} - {gaming_brand}",
                "Ladestation für {platform} Controller",
                "Gaming Headset {gaming_brand} mit Mikrofon",
                "Schutzhülle für {platform}",
            ),
            "sentences": (
                "Offiziell lizenziertes Zubehör für {platform}.",
                "Akku mit bis zu {n2} Stunden Laufzeit.",
                "Ergonomisches Design für lange Spielsessions.",
            ),
        },
        "en": {
            "titles": (
                "Wireless Controller for {platform} {colour} - {gaming_brand}",
                "Dual Charging Dock for {platform} Controllers",
                "{gaming_brand} Gaming Headset with Mic",
                "Protective Carry Case for {platform}",
            ),
            "sentences": (
                "Officially licensed accessory for {platform}.",
                "Rechargeable battery with up to {n2} hours of play.",
                "Ergonomic design for long gaming sessions.",
            ),
        },
    },
    # Game consoles.
    60: {
        "shared": _GAMING_SHARED,
        "fr": {
            "titles": (
                "Console {console} {storage} Go {colour}",
                "Pack Console {console} + {n} jeux",
                "Console rétro portable {n3} jeux intégrés",
                "Mini console de jeux rétro HDMI {n3} jeux",
                "Console {console} édition limitée {game}",
                "Console de jeux vidéo portable {screen} pouces",
            ),
            "screen": ("2,8", "3", "3,5", "4,3", "7"),
            "sentences": (
                "Console livrée avec une manette, câble HDMI et alimentation.",
                "Stockage de {storage} Go, lecteur Blu-ray.",
                "Console portable avec écran couleur et {n3} jeux rétro intégrés.",
                "Branchez-la sur votre téléviseur et jouez à deux.",
                "Idéal pour les nostalgiques des consoles des années 90.",
            ),
        },
        "de": {
            "titles": (
                "Konsole {console} {storage} GB {colour}",
                "Retro Handheld Konsole mit {n3} Spielen",
                "{console} Bundle + {n} Spiele",
            ),
            "sentences": (
                "Konsole inklusive Controller, HDMI-Kabel und Netzteil.",
                "Tragbare Konsole mit Farbbildschirm.",
            ),
        },
        "en": {
            "titles": (
                "{console} Console {storage}GB {colour}",
                "Retro Handheld Game Console with {n3} Built-in Games",
                "{console} Bundle + {n} Games",
            ),
            "sentences": (
                "Console comes with one controller, HDMI cable and power supply.",
                "Portable console with colour screen.",
            ),
        },
    },
    # Used consoles, games and equipment.
    2462: {
        "shared": _GAMING_SHARED,
        "fr": {
            "titles": (
                "Lot {n} jeux {platform}",
                "Console {console} occasion + manette",
                "{game} {platform} occasion",
                "Lot console {console} + {n} jeux + {n} manettes",
                "Console {console} en l'état pour pièces",
                "Lot jeux {retro_platform} : {game}, {game}",
                "Pack {console} complet en boîte, très bon état",
            ),
            "sentences": (
                "Console d'occasion testée et fonctionnelle, quelques rayures d'usage.",
                "Lot vendu en l'état, jeux sans notice.",
                "Manette d'origine incluse, câbles fournis.",
                "Jeux en bon état, disques légèrement rayés mais fonctionnels.",
                "Vendu cause double emploi.",
            ),
        },
        "de": {
            "titles": (
                "Konvolut {n} Spiele {platform} gebraucht",
                "{console} gebraucht + Controller",
                "{console} Bundle gebraucht mit {n} Spielen",
            ),
            "sentences": (
                "Gebraucht, getestet und funktionsfähig.",
                "Leichte Gebrauchsspuren, Kabel dabei.",
            ),
        },
        "en": {
            "titles": (
                "Bundle of {n} {platform} games - used",
                "Used {console} + controller",
                "{console} bundle pre-owned with {n} games",
            ),
            "sentences": (
                "Pre-owned, tested and working.",
                "Minor scratches, all cables included.",
            ),
        },
    },
    # PC video games.
    2905: {
        "shared": {
            **_GAMING_SHARED,
            "pc_game": ("Les Sims 4", "Age of Empires II", "World of Warcraft", "Diablo III",
                        "StarCraft II", "Civilization VI", "Football Manager 2019",
                        "Anno 1800", "The Witcher 3", "Half-Life 2", "Cities Skylines",
                        "Farming Simulator 19", "Euro Truck Simulator 2",
                        "Total War Warhammer", "Fallout 4", "Flight Simulator X",
                        "Command & Conquer", "Heroes of Might and Magic III", "Minecraft",
                        "Call of Duty Black Ops", "Assassin's Creed Odyssey"),
            "store": ("Steam", "Origin", "Uplay", "Battle.net", "GOG", "Epic Games"),
        },
        "fr": {
            "titles": (
                "{pc_game} - PC",
                "{pc_game} - Jeu PC DVD-ROM",
                "{pc_game} (PC) - Code de téléchargement {store}",
                "{pc_game} Édition Collector - PC",
                "Jeu PC {pc_game} - Extension",
                "{pc_game} - PC/Mac - Version boîte",
                "{pc_game} Gold Edition - Windows 10",
            ),
            "sentences": (
                "Jeu PC en version française, activation sur {store}.",
                "Configuration minimale : Windows 10, {n2} Go de RAM, carte graphique "
                "compatible DirectX 11.",
                "Le code est envoyé par e-mail après l'achat.",
                "Extension nécessitant le jeu de base {pc_game}.",
                "Boîtier DVD complet avec manuel.",
            ),
        },
        "de": {
            "titles": (
                "{pc_game} - [PC]",
                "{pc_game} PC Download Code {store}",
                "{pc_game} Collector's Edition (PC)",
            ),
            "sentences": (
                "PC-Spiel, Aktivierung über {store}.",
                "Systemvoraussetzungen: Windows 10, {n2} GB RAM.",
            ),
        },
        "en": {
            "titles": (
                "{pc_game} - PC",
                "{pc_game} (PC) - {store} Key",
                "{pc_game} Game of the Year Edition PC DVD",
            ),
            "sentences": (
                "PC game, requires activation on {store}.",
                "Minimum requirements: Windows 10, {n2} GB RAM.",
            ),
        },
    },
    # Figurines.
    1140: {
        "shared": {
            "franchise": _FRANCHISES,
            "character": _CHARACTERS,
            "figurine_brand": _FIGURINE_BRANDS,
        },
        "fr": {
            "titles": (
                "Figurine {franchise} {character} {cm} cm",
                "Funko Pop {character} #{n3}",
                "Figurine {character} - {franchise} - {figurine_brand}",
                "Statue {character} {franchise} résine édition limitée",
                "Figurine articulée {character} {n2} cm",
                "Lot de {n} figurines {franchise}",
                "Figurine Dragon Ball Z Goku Super Saiyan {cm} cm",
                "Mini figurine {character} porte-clés",
            ),
            "sentences": (
                "Figurine officielle {figurine_brand}, neuve en boîte.",
                "Hauteur environ {n2} cm, peinte à la main.",
                "Figurine en PVC de haute qualité, très détaillée.",
                "Parfaite pour les fans de {franchise}.",
                "Statue numérotée, livrée avec son socle.",
                "Articulations multiples et accessoires interchangeables.",
            ),
        },
        "de": {
            "titles": (
                "Figur {franchise} {character} {n2} cm",
                "Funko Pop {character} Vinyl Figur #{n3}",
                "Actionfigur {character} - {figurine_brand}",
            ),
            "sentences": (
                "Offizielle Sammelfigur, neu in OVP.",
                "Höhe ca. {n2} cm, sehr detailliert.",
            ),
        },
        "en": {
            "titles": (
                "{franchise} {character} Figure {n2} cm",
                "Funko Pop {character} Vinyl Figure #{n3}",
                "{character} Action Figure - {figurine_brand}",
            ),
            "sentences": (
                "Official collectible figure, new in box.",
                "Approx. {n2} cm tall, highly detailed.",
            ),
        },
    },
    # Figurines and tabletop wargames.
    1180: {
        "shared": {
            "wargame": ("Warhammer 40K", "Age of Sigmar", "Blood Bowl", "Kill Team",
                        "Necromunda", "Warhammer Battle", "Infinity", "Bolt Action",
                        "X-Wing", "Confrontation", "Donjons et Dragons", "Heroclix"),
            "army": ("Space Marines", "Orks", "Eldars", "Tyranides", "Nécrons",
                     "Chevaliers Gris", "Skavens", "Elfes Noirs", "Nains", "Hommes-Lézards",
                     "Stormcast Eternals", "Astra Militarum"),
            "wg_brand": ("Games Workshop", "Citadel", "Corvus Belli", "Warlord Games",
                         "Rackham", "Reaper", "WizKids", "Fantasy Flight"),
            "character": _CHARACTERS,
        },
        "fr": {
            "titles": (
                "{wargame} {army} - {wg_brand}",
                "Figurine {wargame} {army} x{n2} à peindre",
                "Lot figurines {army} {wargame} peintes",
                "Figurine plomb {scale_mm} {army}",
                "Boîte de base {wargame} - {wg_brand}",
                "Codex {army} {wargame} VF",
                "Figurine {character} à peindre {scale_mm} jeu de figurines",
            ),
            "scale_mm": ("28mm", "32mm", "15mm", "54mm", "1/72"),
            "players": ("2", "2 à 4", "1 à 6"),
            "sentences": (
                "Figurines en plastique à assembler et à peindre, colle non fournie.",
                "Escouade de {n2} figurines avec socles.",
                "Lot peint avec soin, quelques éclats de peinture.",
                "Jeu de figurines pour {players} joueurs.",
                "Figurines métal de la gamme {wg_brand}, rares.",
            ),
        },
        "de": {
            "titles": (
                "{wargame} {army} - {wg_brand}",
                "Konvolut {army} bemalt {wargame}",
                "Zinnfigur {army} 28mm",
            ),
            "sentences": (
                "Bausatz aus Kunststoff, unbemalt.",
                "Sorgfältig bemalt, kleine Lackschäden.",
            ),
        },
        "en": {
            "titles": (
                "{wargame} {army} - {wg_brand}",
                "Painted {army} army lot {wargame}",
                "Metal miniature {army} 28mm",
            ),
            "sentences": (
                "Plastic miniatures supplied unassembled and unpainted.",
                "Nicely painted, a few chips.",
            ),
        },
    },
    # Trading cards.
    1160: {
        "shared": {
            "pokemon": ("Dracaufeu", "Pikachu", "Mewtwo", "Tortank", "Florizarre", "Ectoplasma",
                        "Lucario", "Rayquaza", "Évoli", "Mew", "Ronflex", "Lugia", "Salamèche",
                        "Dracolosse", "Sulfura"),
            "yugioh": ("Dragon Blanc aux Yeux Bleus", "Magicien Sombre", "Exodia",
                       "Kuriboh", "Dragon Noir aux Yeux Rouges", "Slifer le Dragon du Ciel"),
            "mtg": ("Black Lotus", "Lightning Bolt", "Serra Angel", "Shivan Dragon",
                    "Counterspell", "Llanowar Elves", "Jace", "Liliana"),
            "card_set": ("Set de Base", "Jungle", "Fossile", "XY Évolutions", "Soleil et Lune",
                         "Épée et Bouclier", "Team Rocket", "Ténèbres Embrasées"),
            "player": ("Mbappé", "Zidane", "Messi", "Ronaldo", "Griezmann", "Neymar",
                       "Benzema", "Platini"),
            "rarity": ("Holo", "Reverse", "Full Art", "GX", "EX", "V", "VMAX", "Secrète",
                       "Commune", "Rare", "Ultra Rare"),
        },
        "fr": {
            "titles": (
                "Carte Pokemon {pokemon} {n2}/{n3} {rarity}",
                "Carte Pokémon {pokemon} {rarity} - {card_set}",
                "Lot de {n3} cartes Pokemon dont {n2} {rarity}",
                "Carte Yu-Gi-Oh {yugioh} {yugioh_code}",
                "Carte Magic {mtg} - {mtg_edition} - VF",
                "Carte Panini Foot {player} {year}",
                "Booster {card_set} scellé",
                "Carte {pokemon} {rarity} PSA {n}",
            ),
            "yugioh_code": ("LOB-FR001", "SDK-F001", "MRD-FR{n3}", "DUPO-FR{n3}",
                            "LDK2-FR{n3}"),
            "mtg_edition": ("Édition Alpha", "Revised", "Dominaria", "Ixalan", "Innistrad",
                            "Zendikar", "Modern Horizons"),
            "sentences": (
                "Carte en excellent état, sortie de booster et mise directement sous "
                "sleeve.",
                "Carte {rarity} de l'extension {card_set}, version française.",
                "Envoi protégé dans un toploader.",
                "Lot de cartes variées, communes et peu communes.",
                "Quelques traces d'usure sur les coins, voir photos.",
            ),
        },
        "de": {
            "titles": (
                "Pokemon Karte {pokemon} {n2}/{n3} {rarity} deutsch",
                "Yu-Gi-Oh Karte {yugioh} 1. Auflage",
                "Sammelkarten Konvolut {n3} Pokemon Karten",
            ),
            "sentences": (
                "Karte direkt aus dem Booster in die Hülle.",
                "Sehr guter Zustand, deutsch.",
            ),
        },
        "en": {
            "titles": (
                "Pokemon Card {pokemon} {n2}/{n3} {rarity}",
                "Magic the Gathering {mtg} - English",
                "Trading card lot of {n3} Pokemon cards",
            ),
            "sentences": (
                "Pack fresh, sleeved immediately.",
                "Near mint condition, English.",
            ),
        },
    },
    # Children's toys.
    1280: {
        "shared": {
            **_TOY_SHARED,
            "lego_theme": ("City", "Friends", "Star Wars", "Ninjago", "Duplo", "Technic",
                           "Creator", "Harry Potter", "Marvel Super Heroes", "Minecraft"),
            "doll": ("Barbie", "Corolle", "Na! Na! Na! Surprise", "LOL Surprise", "Poupon",
                     "Baby Born", "Nenuco", "Polly Pocket"),
        },
        "fr": {
            **_TOY_FR,
            "titles": (
                "Peluche {animal} {cm} cm",
                "Poupée {doll} {colour}",
                "Lego {lego_theme} {n4} - {toy_thing}",
                "Playmobil {n4} {toy_thing}",
                "Jouet {toy_thing} pour {kid} dès {age}",
                "{toy_brand} - {toy_thing} - Jouet d'éveil",
                "Puzzle {pieces} pièces {theme}",
                "Déguisement {character_toy} taille {age}",
                "Voiture télécommandée pour {kid} {colour}",
                "Cuisine en bois pour {kid} avec accessoires",
            ),
            "toy_thing": ("La caserne des pompiers", "Le camion de police", "Le château fort",
                          "Table d'activités", "Xylophone", "Cube d'éveil",
                          "Circuit de billes", "Garage à voitures", "Maison de poupée",
                          "Le bateau pirate", "Tableau magnétique", "Dînette"),
            "theme": ("animaux de la ferme", "Reine des Neiges", "Pat' Patrouille",
                      "carte du monde", "dinosaures", "princesses", "Tour Eiffel"),
            "character_toy": ("princesse", "pirate", "chevalier", "super-héros",
                              "sorcière", "pompier"),
            "sentences": (
                "Jouet pour {kid} à partir de {age}.",
                "Développe la motricité fine et l'imagination de votre enfant.",
                "Peluche toute douce, lavable en machine à 30°.",
                "Contient {n2} pièces, piles non fournies.",
                "Conforme aux normes de sécurité européennes CE.",
                "Attention : ne convient pas aux enfants de moins de 36 mois.",
                "Un cadeau idéal pour Noël ou un anniversaire.",
            ),
        },
        "de": {
            **_TOY_DE,
            "titles": (
                "Plüschtier {animal} {cm} cm",
                "Lego {lego_theme} {n4} - Spielset",
                "Spielzeug für {kid} ab {age}",
                "Puzzle {pieces} Teile",
            ),
            "sentences": (
                "Spielzeug für {kid} ab {age}.",
                "Fördert Motorik und Fantasie.",
                "Achtung: Nicht geeignet für Kinder unter 36 Monaten.",
            ),
        },
        "en": {
            **_TOY_EN,
            "titles": (
                "Plush {animal} soft toy {cm} cm",
                "Lego {lego_theme} {n4} - Building Set",
                "Toy for {kid} from {age}",
                "Jigsaw puzzle {pieces} pieces",
            ),
            "sentences": (
                "Toy for {kid} aged {age} and up.",
                "Develops fine motor skills and imagination.",
                "Warning: not suitable for children under 36 months.",
            ),
        },
    },
    # Board games.
    1281: {
        "shared": _TOY_SHARED,
        "fr": {
            **_TOY_FR,
            "titles": (
                "Jeu de société {board_game}",
                "{board_game} - {game_publisher} - Jeu de plateau",
                "{board_game} édition {edition}",
                "Jeu de cartes {board_game} {game_publisher}",
                "Puzzle {pieces} pièces {game_publisher}",
                "Jeu de société familial {board_game} dès {age}",
                "Extension {board_game} : {expansion}",
                "Jeu d'ambiance {board_game} - {players} joueurs",
            ),
            "edition": ("classique", "voyage", "Deluxe", "junior", "collector", "2019",
                        "Harry Potter", "Fortnite"),
            "expansion": ("Marins", "Villes et Chevaliers", "Europe", "Les Cathédrales",
                          "Leaders", "Harbour"),
            "sentences": (
                "Jeu de société pour {players} joueurs, dès {age}.",
                "Durée d'une partie : environ {n2} minutes.",
                "Jeu complet, toutes les pièces ont été vérifiées.",
                "Règles du jeu en français incluses.",
                "Un jeu de stratégie et de réflexion pour toute la famille.",
                "Boîte en bon état, cartes sous sachet.",
            ),
        },
        "de": {
            **_TOY_DE,
            "titles": (
                "Gesellschaftsspiel {board_game} - {game_publisher}",
                "Brettspiel {board_game} ab {age}",
                "Kartenspiel {board_game}",
            ),
            "sentences": (
                "Spiel für {players} Spieler ab {age}.",
                "Spieldauer ca. {n2} Minuten.",
                "Vollständig, alle Teile vorhanden.",
            ),
        },
        "en": {
            **_TOY_EN,
            "titles": (
                "{board_game} Board Game - {game_publisher}",
                "{board_game} Card Game for {kid}",
                "{board_game} Family Board Game ages {age}",
            ),
            "sentences": (
                "Board game for {players} players, ages {age} and up.",
                "Playing time approx. {n2} minutes.",
                "Complete, all pieces checked.",
            ),
        },
    },
    # Outdoor toys.
    1302: {
        "shared": _TOY_SHARED,
        "fr": {
            **_TOY_FR,
            "titles": (
                "Trampoline {cm} cm avec filet de sécurité",
                "Balançoire de jardin {toy_brand}",
                "Toboggan {colour} pour {kid}",
                "Pistolet à eau {n2} m de portée",
                "Cerf-volant {animal} {colour}",
                "Trottinette {n} roues pour {kid} dès {age}",
                "Draisienne en bois {colour}",
                "Maisonnette de jardin pour {kid} {toy_brand}",
                "Bac à sable avec couvercle",
                "Piscine à balles gonflable avec {n3} balles",
                "Ballon de foot taille {n}",
            ),
            "sentences": (
                "Jouet d'extérieur pour {kid} à partir de {age}.",
                "Structure robuste en acier galvanisé, résiste aux intempéries.",
                "Montage facile, notice en français.",
                "Poids maximum supporté : {n3} kg.",
                "Idéal pour se dépenser au jardin cet été.",
                "Roues lumineuses LED, guidon réglable en hauteur.",
            ),
        },
        "de": {
            **_TOY_DE,
            "titles": (
                "Trampolin {cm} cm mit Sicherheitsnetz",
                "Wasserpistole {n2} m Reichweite",
                "Kinderroller {n} Räder ab {age}",
                "Sandkasten mit Deckel",
            ),
            "sentences": (
                "Outdoor-Spielzeug für {kid} ab {age}.",
                "Robuster Stahlrahmen, wetterfest.",
            ),
        },
        "en": {
            **_TOY_EN,
            "titles": (
                "Trampoline {cm} cm with safety net",
                "Water gun {n2} m range",
                "Kick scooter {n} wheels for {kid}",
                "Sandpit with cover",
            ),
            "sentences": (
                "Outdoor toy for {kid} aged {age} and up.",
                "Sturdy weather-resistant steel frame.",
            ),
        },
    },
    # Baby clothing and indoor games (baby socks, darts, billiards).
    1301: {
        "shared": {
            **_TOY_SHARED,
            "darts_brand": ("Harrows", "Winmau", "Unicorn", "Target", "Bull's", "Red Dragon"),
        },
        "fr": {
            **_TOY_FR,
            "titles": (
                "Chaussettes bébé antidérapantes lot de {n} - {baby_age}",
                "Body bébé manches longues {colour} {baby_age}",
                "Fléchettes {darts_brand} {n2} g pointe acier",
                "Cible de fléchettes électronique {n2} jeux",
                "Queue de billard {n3} cm {material}",
                "Table de billard pliante {colour}",
                "Baby-foot {material} {n} barres",
                "Chaussons bébé {animal} {baby_age}",
                "Lot de {n} boules de billard américain",
            ),
            "baby_age": ("0-3 mois", "3-6 mois", "6-12 mois", "12-18 mois", "naissance"),
            "sentences": (
                "Chaussettes en coton doux avec semelle antidérapante.",
                "Set de {n} fléchettes avec étui de rangement.",
                "Cible électronique avec affichage LCD et {n2} jeux.",
                "Queue de billard en {material}, procédé vissé.",
                "Lavable en machine, taille {baby_age}.",
                "Pour jouer entre amis à la maison ou au bar.",
            ),
        },
        "de": {
            **_TOY_DE,
            "titles": (
                "Babysocken rutschfest {n}er Pack",
                "Dartpfeile {darts_brand} {n2} g Steeltip",
                "Elektronische Dartscheibe",
                "Billardqueue {n3} cm",
            ),
            "sentences": (
                "Weiche Baumwollsocken mit Anti-Rutsch-Sohle.",
                "Set mit {n} Dartpfeilen und Etui.",
            ),
        },
        "en": {
            **_TOY_EN,
            "titles": (
                "Non-slip baby socks pack of {n}",
                "{darts_brand} steel tip darts {n2} g",
                "Electronic dartboard {n2} games",
                "Pool cue {n3} cm",
            ),
            "sentences": (
                "Soft cotton socks with non-slip soles.",
                "Set of {n} darts with carry case.",
            ),
        },
    },
    # Childcare and baby accessories.
    1320: {
        "shared": {
            "baby_brand": ("Chicco", "Bébé Confort", "Tommee Tippee", "MAM", "Philips Avent",
                           "Babymoov", "Cybex", "Maxi-Cosi", "Red Castle", "Béaba", "Dodie",
                           "Aubert Concept", "Nuk"),
        },
        "fr": {
            "titles": (
                "Poussette {baby_item_adj} {baby_brand} {colour}",
                "Siège auto groupe {n} {baby_brand}",
                "Tire-lait électrique {baby_brand}",
                "Biberon anti-colique {n3} ml - {baby_brand}",
                "Gigoteuse {season} {baby_age} {colour}",
                "Chaise haute évolutive {baby_brand}",
                "Lit parapluie {baby_brand} avec matelas",
                "Sac à langer {colour} {baby_brand}",
                "Lot de {n} tétines {baby_age}",
                "Babyphone vidéo {baby_brand}",
                "Matelas à langer {colour}",
            ),
            "baby_item_adj": ("canne", "trio", "compacte", "tout-terrain", "citadine",
                              "double"),
            "season": ("hiver", "été", "mi-saison", "toutes saisons"),
            "baby_age": ("0-6 mois", "6-18 mois", "18-36 mois", "naissance"),
            "sentences": (
                "Pour bébé dès la naissance jusqu'à {n2} kg.",
                "Pliage compact d'une seule main, harnais 5 points.",
                "Sans BPA, compatible lave-vaisselle et stérilisateur.",
                "Housse déhoussable et lavable en machine.",
                "Conforme à la norme européenne de sécurité puériculture.",
                "Accessoire indispensable pour les jeunes parents.",
            ),
        },
        "de": {
            "titles": (
                "Kinderwagen {baby_brand} {colour}",
                "Autositz Gruppe {n} {baby_brand}",
                "Babyflasche {n3} ml - {baby_brand}",
                "Schlafsack Baby {colour}",
            ),
            "sentences": (
                "Für Babys ab Geburt bis {n2} kg.",
                "BPA-frei, spülmaschinenfest.",
            ),
        },
        "en": {
            "titles": (
                "{baby_brand} Pushchair {colour}",
                "{baby_brand} Car Seat Group {n}",
                "Anti-colic baby bottle {n3} ml - {baby_brand}",
                "Baby sleeping bag {colour}",
            ),
            "sentences": (
                "Suitable from birth up to {n2} kg.",
                "BPA free, dishwasher safe.",
            ),
        },
    },
    # Scale models and RC.
    1300: {
        "shared": {
            "model_brand": ("Revell", "Tamiya", "Heller", "Airfix", "Bburago", "Majorette",
                            "Norev", "Solido", "Hot Wheels", "DJI", "Syma", "Carrera",
                            "Märklin", "Jouef", "Italeri", "Hasegawa", "Kyosho"),
            "vehicle": ("Ferrari F40", "Porsche 911", "Renault 5 Turbo", "Citroën DS",
                        "Peugeot 205 GTI", "Spitfire", "Rafale", "Titanic", "Tigre I",
                        "Mustang P-51", "Bugatti Chiron", "Alpine A110", "Concorde",
                        "Lamborghini Countach", "Bismarck", "Messerschmitt Bf 109"),
            "scale": ("1/18", "1/24", "1/43", "1/72", "1/48", "1/35", "1/350", "1/10", "1/87",
                      "1/144", "1/12"),
            "res": ("4K", "HD 1080p", "720p", "2.7K"),
        },
        "fr": {
            "titles": (
                "Maquette {vehicle} {scale} {model_brand}",
                "Miniature {vehicle} {scale} {model_brand} {colour}",
                "Voiture RC {rc_kind} {scale} {n2} km/h",
                "Drone {model_brand} caméra {res} avec GPS",
                "Hélicoptère radiocommandé {n} voies",
                "Train électrique HO {model_brand} coffret de départ",
                "Kit maquette {vehicle} à monter et peindre",
                "Wagon {model_brand} HO {ref}",
                "Bateau radiocommandé {n2} km/h",
            ),
            "rc_kind": ("buggy", "crawler", "monster truck", "touring", "drift", "truggy"),
            "sentences": (
                "Maquette en plastique à assembler, {n3} pièces, colle et peinture non "
                "fournies.",
                "Miniature en métal moulé, portes ouvrantes, échelle {scale}.",
                "Modèle radiocommandé prêt à rouler, batterie LiPo {n} S incluse.",
                "Portée de la radiocommande : {n3} m, autonomie {n2} minutes.",
                "Pièce de collection en boîte d'origine.",
                "Moteur brushless, transmission 4x4, amortisseurs à huile.",
            ),
        },
        "de": {
            "titles": (
                "Modellbausatz {vehicle} {scale} {model_brand}",
                "Modellauto {vehicle} {scale} {model_brand}",
                "RC Auto {scale} {n2} km/h ferngesteuert",
                "Modelleisenbahn H0 Startset {model_brand}",
            ),
            "sentences": (
                "Bausatz aus Kunststoff, {n3} Teile.",
                "Ferngesteuert, Akku inklusive.",
            ),
        },
        "en": {
            "titles": (
                "{model_brand} {vehicle} {scale} Model Kit",
                "Diecast {vehicle} {scale} {model_brand}",
                "RC Car {scale} {n2} km/h remote control",
                "{model_brand} drone with {res} camera",
            ),
            "sentences": (
                "Plastic model kit, {n3} parts, glue and paint not included.",
                "Ready to run, battery included.",
            ),
        },
    },
    # Indoor furniture.
    1560: {
        "shared": _FURNITURE_SHARED,
        "fr": {
            **_FURNITURE_FR,
            "titles": (
                "Table basse {style} en {wood} {dim}",
                "Canapé d'angle {seats} places {colour}",
                "Chaise de salle à manger {style} {colour} - lot de {n}",
                "Commode {n} tiroirs en {wood}",
                "Meuble TV {style} {cm} cm",
                "Armoire {n} portes {colour} {furniture_brand}",
                "Bibliothèque {style} {n} étagères",
                "Lit {bed_size} avec sommier {colour}",
                "Table de chevet {style} en {material}",
                "Bureau {style} en {wood} et {material}",
                "Matelas {bed_size} mousse mémoire de forme",
                "Tabouret de bar {colour} {material}",
            ),
            "bed_size": ("140x190", "160x200", "90x190", "180x200"),
            "sentences": (
                "Meuble en {wood} massif, finition {colour}.",
                "Dimensions : {dim}.",
                "Livré en kit, montage facile, notice incluse.",
                "Style {style} qui s'intègre parfaitement dans votre salon.",
                "Plateau en {material} résistant aux rayures.",
                "Assise rembourrée en mousse haute densité, revêtement en {material}.",
                "Rangement pratique avec {n} tiroirs coulissants.",
            ),
        },
        "de": {
            **_FURNITURE_DE,
            "titles": (
                "Couchtisch {style} aus {wood} {dim}",
                "Ecksofa {seats}-Sitzer {colour}",
                "Esszimmerstühle {n}er Set {colour}",
                "Kommode mit {n} Schubladen",
            ),
            "sentences": (
                "Möbel aus {wood}, Farbe {colour}.",
                "Lieferung zerlegt, einfache Montage.",
                "Maße: {dim}.",
            ),
        },
        "en": {
            **_FURNITURE_EN,
            "titles": (
                "{style} coffee table {wood} {dim}",
                "Corner sofa {seats} seater {colour}",
                "Set of {n} dining chairs {colour}",
                "Chest of {n} drawers {wood}",
            ),
            "sentences": (
                "Furniture in {wood}, {colour} finish.",
                "Flat-packed, easy assembly.",
                "Dimensions: {dim}.",
            ),
        },
    },
    # Garden furniture.
    2582: {
        "shared": _FURNITURE_SHARED,
        "fr": {
            **_FURNITURE_FR,
            "titles": (
                "Salon de jardin {seats} places en résine tressée {colour}",
                "Chaise longue {style} en {wood}",
                "Transat pliable {colour}",
                "Parasol déporté {n} m {colour} inclinable",
                "Table de jardin {style} {dim}",
                "Hamac {colour} avec support",
                "Tonnelle {n}x{n} m {colour}",
                "Banc de jardin en {wood}",
                "Bain de soleil {material} {colour} {furniture_brand}",
                "Lot de {n} chaises de jardin empilables",
                "Balancelle de jardin {seats} places",
            ),
            "sentences": (
                "Mobilier de jardin résistant aux UV et aux intempéries.",
                "Structure en aluminium et assise en textilène.",
                "Coussins déhoussables inclus, couleur {colour}.",
                "Idéal pour profiter de votre terrasse ou de votre balcon.",
                "Dimensions : {dim}.",
                "Table en {wood} traité pour l'extérieur, style {style}.",
            ),
        },
        "de": {
            **_FURNITURE_DE,
            "titles": (
                "Gartenmöbel Set {seats}-Sitzer Polyrattan {colour}",
                "Sonnenliege aus {wood}",
                "Sonnenschirm {n} m {colour}",
                "Gartenbank aus {wood}",
            ),
            "sentences": (
                "Wetterfeste Gartenmöbel, UV-beständig.",
                "Inklusive Sitzkissen, Farbe {colour}.",
            ),
        },
        "en": {
            **_FURNITURE_EN,
            "titles": (
                "{seats} seater rattan garden furniture set {colour}",
                "Sun lounger {wood}",
                "Cantilever parasol {n} m {colour}",
                "Garden bench {wood}",
            ),
            "sentences": (
                "Weather-resistant, UV-proof garden furniture.",
                "Cushions included, {colour}.",
            ),
        },
    },
    # Household linen.
    1920: {
        "shared": {
            "linen_brand": ("Linnea", "Essix", "Blanc des Vosges", "Tradilinge", "Descamps",
                            "Olivier Desforges", "Dodo", "Anne de Solène", "Today"),
        },
        "fr": {
            "titles": (
                "Housse de coussin {size_sq} cm {motif} {colour}",
                "Parure de lit {bed_size} {motif} {n} pièces",
                "Drap housse {bed_size} en {fabric} {colour}",
                "Rideau occultant {colour} {n3}x{n3} cm",
                "Nappe {shape} {motif} anti-taches",
                "Plaid {fabric} {colour} {n3}x{n3} cm",
                "Lot de {n} serviettes de bain {colour}",
                "Taie d'oreiller {size_sq} cm {fabric} - {linen_brand}",
                "Coussin décoratif {motif} {colour}",
                "Couette {bed_size} {season_linen}",
            ),
            "size_sq": ("40x40", "45x45", "50x50", "60x60", "30x50", "65x65"),
            "bed_size": ("140x190", "160x200", "240x220", "200x200", "90x190"),
            "fabric": ("coton", "percale de coton", "lin lavé", "satin de coton", "flanelle",
                       "microfibre", "velours", "polaire", "éponge"),
            "motif": ("géométrique", "fleuri", "rayé", "ethnique", "tropical", "à carreaux",
                      "uni", "imprimé feuilles", "scandinave", "brodé", "Noël"),
            "shape": ("rectangulaire", "ronde", "ovale", "carrée"),
            "season_linen": ("chaude", "tempérée", "légère", "4 saisons"),
            "sentences": (
                "Housse de coussin en {fabric}, fermeture éclair invisible.",
                "Lavable en machine à {wash} °C.",
                "Tissu doux et respirant, motif {motif}.",
                "Le coussin de garnissage n'est pas inclus.",
                "Parure composée d'une housse de couette et de {n} taies d'oreiller.",
                "Couleur {colour}, idéale pour une chambre cosy.",
            ),
            "wash": ("30", "40", "60"),
        },
        "de": {
            "titles": (
                "Kissenbezug 45x45 cm {colour}",
                "Bettwäsche 135x200 cm {colour} {n}-teilig",
                "Spannbettlaken Baumwolle {colour}",
                "Verdunkelungsvorhang {colour}",
            ),
            "sentences": (
                "Aus weicher Baumwolle, waschbar bei 40 °C.",
                "Kissenfüllung nicht enthalten.",
            ),
        },
        "en": {
            "titles": (
                "Cushion cover 45x45 cm {colour}",
                "Duvet cover set double {colour}",
                "Fitted sheet cotton {colour}",
                "Blackout curtain {colour}",
            ),
            "sentences": (
                "Soft cotton, machine washable at 40 °C.",
                "Cushion insert not included.",
            ),
        },
    },
    # Food and groceries.
    1940: {
        "shared": {
            "food_brand": ("Lavazza", "Lindt", "Haribo", "Bonne Maman", "Kusmi Tea",
                           "Carte Noire", "Nespresso", "Ducros", "Puget", "Michel et Augustin",
                           "Kinder", "Twinings", "Illy", "Lipton"),
            "grams": ("100", "125", "200", "250", "500", "750", "1000", "1 kg", "2 kg"),
        },
        "fr": {
            "titles": (
                "Café en grains {food_brand} {grams} g",
                "Thé vert {flavour} bio - {n2} sachets",
                "Chocolat noir {pct}% cacao {food_brand}",
                "Bonbons {food_brand} sachet {grams} g",
                "Épices {spice} {grams} g",
                "Miel de {honey} {grams} g",
                "Huile d'olive vierge extra {n} L",
                "Lot de {n2} capsules compatibles Nespresso {flavour}",
                "Coffret gourmand {food_thing}",
                "Confiture de {fruit} {food_brand}",
            ),
            "flavour": ("menthe", "jasmin", "fruits rouges", "vanille", "caramel",
                        "citron", "noisette", "intense", "décaféiné"),
            "spice": ("curcuma", "poivre noir", "cannelle", "paprika fumé", "curry",
                      "herbes de Provence", "safran"),
            "honey": ("lavande", "châtaignier", "acacia", "fleurs", "montagne", "thym"),
            "fruit": ("fraise", "abricot", "framboise", "figue", "orange amère", "cerise"),
            "food_thing": ("foie gras et confits", "chocolats de Noël", "thés et biscuits",
                           "spécialités bretonnes"),
            "sentences": (
                "Date limite de consommation optimale : {month2}/{recent_year}.",
                "Produit alimentaire à conserver dans un endroit frais et sec.",
                "Ingrédients : sucre, cacao, beurre de cacao, lait entier en poudre.",
                "Peut contenir des traces de fruits à coque.",
                "Un café corsé aux notes de {flavour}.",
                "Issu de l'agriculture biologique, fabriqué en France.",
            ),
        },
        "de": {
            "titles": (
                "Kaffeebohnen {food_brand} {grams} g",
                "Grüner Tee Bio {n2} Beutel",
                "Zartbitterschokolade {pct}% {food_brand}",
            ),
            "sentences": (
                "Kühl und trocken lagern.",
                "Kann Spuren von Schalenfrüchten enthalten.",
            ),
        },
        "en": {
            "titles": (
                "{food_brand} coffee beans {grams} g",
                "Organic green tea {n2} bags",
                "Dark chocolate {pct}% cocoa {food_brand}",
            ),
            "sentences": (
                "Store in a cool, dry place.",
                "May contain traces of nuts.",
            ),
        },
    },
    # Home decoration.
    2060: {
        "shared": {
            "decor_brand": ("Atmosphera", "Maisons du Monde", "Zara Home", "Alinéa",
                            "Hema", "Kare Design", "Amadeus", "Yankee Candle"),
        },
        "fr": {
            "titles": (
                "Sticker mural {decor_motif} {cm} cm",
                "Cadre photo {material} {frame_size}",
                "Vase en céramique {colour} {cm} cm",
                "Horloge murale {style_decor} {cm} cm",
                "Bougie parfumée {scent} - {decor_brand}",
                "Guirlande lumineuse LED {n2} m {colour}",
                'Tableau toile "{decor_motif}" {cm}x{cm} cm',
                "Miroir {style_decor} {shape_decor} {colour}",
                "Lampe à poser {style_decor} {material}",
                "Décoration de Noël {xmas} {colour}",
                "Stickers muraux {decor_motif} pour chambre d'enfant",
            ),
            "decor_motif": ("arbre de vie", "citation", "fleurs", "New York", "plumes",
                            "mandala", "tropical", "animaux de la savane", "étoiles",
                            "Tour Eiffel"),
            "frame_size": ("10x15", "13x18", "20x30", "30x40", "multivues"),
            "style_decor": ("vintage", "industriel", "bohème", "scandinave", "baroque",
                            "moderne", "rétro"),
            "shape_decor": ("rond", "rectangulaire", "soleil", "ovale"),
            "scent": ("vanille", "fleur de coton", "figue", "bois de santal", "ambre",
                      "lavande"),
            "xmas": ("boule", "étoile", "couronne", "sapin", "renne", "angelot"),
            "sentences": (
                "Apportez une touche {style_decor} à votre intérieur.",
                "Sticker adhésif repositionnable, facile à poser sur un mur lisse.",
                "Décoration murale de {cm} cm, fixation incluse.",
                "Durée de combustion : environ {n2} heures.",
                "Objet de décoration en {material}, finition {colour}.",
                "Parfait pour décorer le salon, la chambre ou l'entrée.",
            ),
        },
        "de": {
            "titles": (
                "Wandtattoo {decor_motif_de} {cm} cm",
                "Bilderrahmen {colour} 20x30",
                "Wanduhr {colour} {cm} cm",
                "Duftkerze {decor_brand}",
            ),
            "decor_motif_de": ("Lebensbaum", "Spruch", "Blumen", "Federn", "Mandala"),
            "sentences": (
                "Wandaufkleber, leicht anzubringen.",
                "Dekoration aus {material}.",
            ),
        },
        "en": {
            "titles": (
                "Wall sticker {decor_motif_en} {cm} cm",
                "Photo frame {colour} 8x10",
                "Wall clock {colour} {cm} cm",
                "Scented candle {decor_brand}",
            ),
            "decor_motif_en": ("tree of life", "quote", "flowers", "feathers", "mandala"),
            "sentences": (
                "Removable wall decal, easy to apply.",
                "Decorative piece in {material}.",
            ),
        },
    },
    # Pet supplies.
    2220: {
        "shared": {
            "pet_brand": ("Trixie", "Ferplast", "Kerbl", "Zolux", "Flamingo", "Hunter",
                          "Royal Canin", "Kong", "Tetra", "Vitakraft"),
        },
        "fr": {
            "titles": (
                "Collier pour chien {pet_size} {colour} - {pet_brand}",
                "Arbre à chat {cm} cm {colour}",
                "Griffoir pour chat en sisal",
                "Gamelle inox pour chien {n3} ml",
                "Panier pour chien {pet_size} {colour}",
                "Laisse rétractable {n} m - {pet_brand}",
                "Litière pour chat {n2} L",
                "Aquarium {n3} L équipé",
                "Cage pour lapin {cm} cm",
                "Jouet pour chien {pet_toy}",
                "Harnais pour chat réglable {colour}",
            ),
            "pet_size": ("taille S", "taille M", "taille L", "XL", "petit chien",
                         "grand chien"),
            "pet_toy": ("balle", "corde à nouer", "os en caoutchouc", "peluche couinante",
                        "frisbee"),
            "sentences": (
                "Accessoire pour animaux robuste et facile à nettoyer.",
                "Convient aux chats et chatons, plateformes en peluche douce.",
                "Collier réglable en nylon avec boucle de sécurité.",
                "Votre chien ou votre chat va l'adorer.",
                "Pour chiens jusqu'à {n2} kg.",
                "Aquarium avec filtre, éclairage LED et chauffage.",
            ),
        },
        "de": {
            "titles": (
                "Hundehalsband {colour} - {pet_brand}",
                "Kratzbaum {cm} cm {colour}",
                "Hundebett {colour} Größe L",
                "Katzentoilette mit Deckel",
            ),
            "sentences": (
                "Robustes Zubehör für Hund und Katze.",
                "Für Hunde bis {n2} kg.",
            ),
        },
        "en": {
            "titles": (
                "Dog collar {colour} - {pet_brand}",
                "Cat tree {cm} cm {colour}",
                "Dog bed {colour} size L",
                "Hooded cat litter box",
            ),
            "sentences": (
                "Durable pet accessory, easy to clean.",
                "For dogs up to {n2} kg.",
            ),
        },
    },
    # Stationery.
    2522: {
        "shared": {
            "stat_brand": ("Clairefontaine", "Oxford", "Bic", "Stabilo", "Pilot", "Moleskine",
                           "Exacompta", "Maped", "Staedtler", "Faber-Castell", "Paperblanks",
                           "Quo Vadis", "Herlitz"),
            "first_name": _FIRST_NAMES,
        },
        "fr": {
            "titles": (
                "Cahier {cahier_size} {n3} pages {ruling} - {stat_brand}",
                "Stylo {pen} {colour} - {stat_brand}",
                "Agenda {recent_year} {agenda} {colour}",
                "Lot de {n2} feutres {stat_brand}",
                "Carnet de notes A5 {ruling} {colour}",
                "Classeur {n} anneaux {colour} dos {n2} mm",
                "Trousse scolaire {colour}",
                "Carnet {first_name} : personnalisé, {n3} pages, {ruling}",
                "Ramette papier A4 {n3} feuilles {n2} g",
                "Calendrier {recent_year} {decor_theme}",
                "Cartouches d'encre compatibles {printer}",
            ),
            "cahier_size": ("24x32", "17x22", "21x29,7", "A5", "A4"),
            "ruling": ("grands carreaux", "petits carreaux", "ligné", "pointillé", "blanc"),
            "pen": ("bille", "plume", "gel", "roller", "4 couleurs"),
            "agenda": ("semainier", "journalier", "scolaire", "de poche"),
            "decor_theme": ("chats", "paysages de France", "citations", "mandalas"),
            "printer": ("HP 302", "Canon PG-545", "Epson 29XL", "Brother LC-223"),
            "sentences": (
                "Cahier {n3} pages, papier {n2} g, reliure piquée.",
                "Couverture rigide en carton pelliculé, coins arrondis.",
                "Idéal pour l'école, le bureau ou la prise de notes.",
                "Carnet personnalisé avec prénom, parfait comme cadeau.",
                "Encre séchage rapide, pointe moyenne {pen_width} mm.",
                "Papier certifié FSC, fabriqué en France.",
            ),
            "pen_width": ("0,5", "0,7", "1,0", "0,4"),
        },
        "de": {
            "titles": (
                "{first_name}: Personalisiertes Notizbuch / {n3} Seiten / {ruling_de} / "
                "Ca Din A5 / {design_de}-Design",
                "Notizbuch A5 {ruling_de} {colour}",
                "Kugelschreiber {colour} - {stat_brand}",
                "Terminkalender {recent_year} {colour}",
                "Schulheft A4 {ruling_de} {n2} Blatt",
            ),
            "ruling_de": ("Punktraster", "Liniert", "Kariert", "Blanko"),
            "design_de": ("Rosen", "Einhorn", "Blumen", "Fußball", "Marmor", "Aquarell",
                          "Katzen", "Pferde"),
            "sentences": (
                "Personalisiertes Notizbuch mit Namen.",
                "{n3} Seiten, {ruling_de}, ca. DIN A5.",
                "Ideal für Schule, Büro oder als Tagebuch.",
            ),
        },
        "en": {
            "titles": (
                "{first_name}: Personalised Notebook / {n3} Pages / {ruling_en} / A5",
                "A5 notebook {ruling_en} {colour}",
                "Ballpoint pen {colour} - {stat_brand}",
                "Diary {recent_year} week to view {colour}",
            ),
            "ruling_en": ("Dotted", "Lined", "Squared", "Blank"),
            "sentences": (
                "Personalised notebook with name.",
                "{n3} pages, {ruling_en}, A5 size.",
                "Perfect for school, office or journaling.",
            ),
        },
    },
    # Pool and accessories.
    2583: {
        "shared": {
            "pool_brand": ("Bestway", "Intex", "Zodiac", "Gré", "Dolphin", "Hayward",
                           "Kokido", "Poolex", "Astral", "Pentair", "Ubbink", "Waterair"),
            "kw": ("3", "4", "5", "6", "7", "9", "11", "12", "15"),
            "pool_dim": ("{n} x {n} m", "{n3} x {n3} x {n3} cm", "{n3} x {n2} cm",
                         "ø {n3} cm", "{n},{n} x {n},{n} m"),
        },
        "fr": {
            "titles": (
                "Pompe à chaleur pour piscine {kw} kW {pool_brand}",
                "Bâche à bulles {n} x {n} m",
                "Robot de piscine électrique {pool_brand} {model_pool}",
                "Filtre à sable {pool_brand} {n} m³/h",
                "Chlore choc {grams_pool} - pastilles {n2} g",
                "Piscine hors sol tubulaire {pool_dim} {pool_brand}",
                "Échelle de piscine {n} marches inox",
                "Liner piscine {pool_dim} {liner} 75/100e",
                "Skimmer pour piscine {pool_brand}",
                "Spa gonflable {n} places {pool_brand}",
                "Bâche d'hivernage {pool_dim}",
                "Épuisette de surface pour piscine",
                "Kit de traitement {n} en 1 {pool_brand}",
            ),
            "model_pool": ("Pro", "Vortex", "Dolphin S200", "Tornax", "Wave 100",
                           "Flowclear", "Aquadroid"),
            "grams_pool": ("1 kg", "5 kg", "2,5 kg", "10 kg"),
            "liner": ("bleu", "gris", "sable", "vert caraïbes", "blanc"),
            "sentences": (
                "Équipement de piscine pour bassins jusqu'à {n2} m³.",
                "Pompe à chaleur silencieuse, COP de {n},{n}, échangeur en titane.",
                "Bâche à bulles en polyéthylène {n3} microns, bordée.",
                "Robot nettoyeur fond et parois, filtration fine.",
                "Montage rapide sans outils, structure tubulaire en acier.",
                "Traitement de l'eau au chlore, dosage facile.",
                "Débit de filtration de {n} m³/h, vanne 6 voies.",
            ),
        },
        "de": {
            "titles": (
                "Poolpumpe {kw} kW {pool_brand}",
                "Wärmepumpe für Pool {kw} kW",
                "Poolroboter {pool_brand} {model_pool}",
                "Solarplane {n} x {n} m",
                "Aufstellpool {pool_dim} {pool_brand}",
                "Sandfilteranlage {n} m³/h",
            ),
            "model_pool": ("Pro", "Vortex", "Flowclear", "Aquadroid"),
            "sentences": (
                "Für Pools bis {n2} m³.",
                "Leise Wärmepumpe mit Titan-Wärmetauscher.",
                "Einfacher Aufbau ohne Werkzeug.",
            ),
        },
        "en": {
            "titles": (
                "Pool heat pump {kw} kW {pool_brand}",
                "Solar bubble cover {n} x {n} m",
                "Robotic pool cleaner {pool_brand} {model_pool}",
                "Above ground pool {pool_dim} {pool_brand}",
                "Sand filter pump {n} m³/h",
            ),
            "model_pool": ("Pro", "Vortex", "Flowclear", "Aquadroid"),
            "sentences": (
                "Suitable for pools up to {n2} m³.",
                "Quiet heat pump with titanium heat exchanger.",
                "Quick tool-free assembly.",
            ),
        },
    },
    # Garden and household tools.
    2585: {
        "shared": {
            "tool_brand": ("Bosch", "Makita", "Einhell", "Ryobi", "Black+Decker", "Gardena",
                           "Kärcher", "Stanley", "Stihl", "Husqvarna", "DeWalt", "Fiskars",
                           "Worx", "Parkside"),
            "volts": ("12", "18", "20", "36", "220"),
        },
        "fr": {
            "titles": (
                "Tondeuse à gazon {power} {tool_brand} {n2} cm",
                "Taille-haie électrique {tool_brand} {n2} cm",
                "Perceuse visseuse {volts}V {tool_brand} + {n} batteries",
                "Nettoyeur haute pression {tool_brand} {n3} bars",
                "Tuyau d'arrosage {n2} m avec pistolet",
                "Sécateur de jardin {tool_brand}",
                "Scie sauteuse {n3} W {tool_brand}",
                "Coffret de {n3} outils à main",
                "Souffleur de feuilles {power}",
                "Débroussailleuse thermique {n2} cc",
                "Aspirateur eau et poussière {n2} L {tool_brand}",
                "Brouette {n2} L acier galvanisé",
            ),
            "power": ("électrique", "thermique", "sans fil", "à batterie", "{n3} W"),
            "sentences": (
                "Outil de jardin robuste, poignée ergonomique antidérapante.",
                "Batterie lithium-ion {volts}V, chargeur inclus.",
                "Moteur de {n3} W pour un travail rapide et précis.",
                "Largeur de coupe de {n2} cm, bac de ramassage de {n2} L.",
                "Garantie fabricant {n} ans.",
                "Idéal pour l'entretien du jardin et les travaux de bricolage.",
            ),
        },
        "de": {
            "titles": (
                "Rasenmäher {tool_brand} {n2} cm",
                "Akku-Bohrschrauber {volts}V {tool_brand}",
                "Hochdruckreiniger {tool_brand} {n3} bar",
                "Gartenschlauch {n2} m",
                "Heckenschere elektrisch {tool_brand}",
            ),
            "sentences": (
                "Robustes Gartenwerkzeug mit ergonomischem Griff.",
                "Lithium-Ionen-Akku {volts}V, Ladegerät inklusive.",
            ),
        },
        "en": {
            "titles": (
                "{tool_brand} lawn mower {n2} cm",
                "Cordless drill driver {volts}V {tool_brand}",
                "{tool_brand} pressure washer {n3} bar",
                "Garden hose {n2} m with spray gun",
                "Electric hedge trimmer {tool_brand}",
            ),
            "sentences": (
                "Sturdy garden tool with ergonomic grip.",
                "{volts}V lithium-ion battery, charger included.",
            ),
        },
    },
}
