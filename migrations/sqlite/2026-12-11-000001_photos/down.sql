DROP TABLE photo_chunks;
DROP TABLE photos;
DROP TABLE attachments;
