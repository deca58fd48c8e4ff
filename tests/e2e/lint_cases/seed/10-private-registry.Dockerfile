FROM myuser/image:tag
