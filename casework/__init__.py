"""What happens to leads after detection: lead status, the lead book, the monthly report.

Plain functions and classes with no Kafka in them; the topics that hold this state are read
and written by ``streams.casework_topics``.
"""
