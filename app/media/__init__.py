"""Images, edits, signed image links, image sniffing, vision fetches, uploads and audio."""
