"""What happens to leads after detection: the negative list, lead handling, the monthly report.

Plain functions and classes with no Kafka in them; the topics that hold this state are read
and written by ``streams.casework_topics``.
"""
