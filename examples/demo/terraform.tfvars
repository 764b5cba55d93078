user_names  = ["alice", "bob"]
group_names = ["ops"]
