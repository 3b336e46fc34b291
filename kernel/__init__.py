"""The trio trading kernel.

It knows nothing about which venue it runs on: it is handed a `Clock`, a `Venue`
and a `Journal`, and everything it does goes through those three.
"""
