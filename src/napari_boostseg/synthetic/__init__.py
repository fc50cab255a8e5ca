"""Photos with known true masks, made from real material, for benchmarks, training and tests.

* :mod:`.ccp` -- garment and person instances of the Clothing Co-Parsing photos;
* :mod:`.studio` -- studio product photos rendered around such instances:
  backdrops, lighting, shadows, layouts and hard cases;
* :mod:`.street` -- street photos: one CCP photo's person in another's street.

Nothing here is needed to segment a photo.
"""
