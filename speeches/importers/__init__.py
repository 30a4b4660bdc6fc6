"""Importers: each format parser turns files into a `SpeechDocument`
(speeches/importers/document.py); `speeches.services.import_speech_document`
writes one document in one transaction. Parsers never touch the database.
"""
